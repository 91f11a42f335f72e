"""Tests for labkit.pretraining: tokenizers, NSP pairs, MLM masking, the fast objective, exact resume,
and the shipped tiny-bert / tiny-gpt checkpoints."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import pytest
import torch

from labkit import pretraining as P

SPECIALS = (0, 1, 2, 3, 4)  # [PAD] [UNK] [CLS] [SEP] [MASK] in the kit's WordPiece vocabularies
MASK_ID = 4


@pytest.fixture(scope="module")
def small_texts():
    """A few real speeches, cut short: enough for tokenizers and a handful of training steps."""
    from labkit.data import load_corpus

    corpus = load_corpus()
    train = [text[:4000] for text in corpus["train"]["text"][:16]]
    held_out = [text[:3000] for text in corpus["validation"]["text"][:3]]
    return train, held_out


@pytest.fixture(scope="module")
def wordpiece(small_texts):
    return P.train_wordpiece_tokenizer(small_texts[0], vocab_size=400)


# ---------------------------------------------------------------- sentences and tokenizers


def test_split_sentences():
    text = 'We met. Did we win? Yes! "Quoted." Then 1812 came. e.g. lower case stays.'
    assert P.split_sentences(text) == ["We met.", "Did we win?", "Yes!", '"Quoted."',
                                       "Then 1812 came. e.g. lower case stays."]
    assert P.split_sentences("   ") == []
    with pytest.raises(TypeError):
        P.split_sentences(None)


def test_wordpiece_tokenizer_is_uncased_bert_style(wordpiece):
    tok = wordpiece
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id] == list(SPECIALS)
    assert len(tok) == 400
    assert tok("The Congress")["input_ids"] == tok("the congress")["input_ids"]
    pair = tok("the people", "the congress")
    ids, types = pair["input_ids"], pair["token_type_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id and ids.count(tok.sep_token_id) == 2
    first_sep = ids.index(tok.sep_token_id)
    assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)


def test_bpe_tokenizer_round_trips(small_texts):
    tok = P.train_bpe_tokenizer(small_texts[0], vocab_size=600)
    text = "Fellow-Citizens of the Senate, 1790: we owe $12.5 million!"
    assert tok.decode(tok(text)["input_ids"]) == text
    assert tok.eos_token == P.GPT_END_OF_TEXT and tok.pad_token_id == tok.eos_token_id


def test_tokenizer_bad_input():
    with pytest.raises(ValueError, match="at least one text"):
        P.train_wordpiece_tokenizer([])
    with pytest.raises(ValueError, match="vocab_size"):
        P.train_wordpiece_tokenizer(["a b c"], vocab_size=10)


# ---------------------------------------------------------------- NSP pairs


def _synthetic_documents(n_docs=40, seed=0):
    """Documents whose token ids encode where they come from: token = doc*10000 + sentence*10 + k."""
    rng = random.Random(seed)
    return [
        [[d * 10000 + s * 10 + k for k in range(rng.randint(3, 9))] for s in range(rng.randint(5, 100))]
        for d in range(n_docs)
    ]


def _sentence_tokens(documents, doc, span):
    return [t for s in range(*span) for t in documents[doc][s]]


def test_nsp_positives_are_consecutive_and_negatives_from_another_document():
    documents = _synthetic_documents()
    instances = P.make_nsp_instances(documents, max_length=48, rng=random.Random(1))
    assert len(instances) > 200
    negatives = [x for x in instances if x.is_random_next]
    positives = [x for x in instances if not x.is_random_next]
    # about half are negatives (binomial: sd ~ 0.03 here)
    assert 0.40 < len(negatives) / len(instances) < 0.62
    for x in instances:
        assert len(x) <= 48
        a_source = _sentence_tokens(documents, x.doc_a, x.sentences_a)
        b_source = _sentence_tokens(documents, x.doc_b, x.sentences_b)
        # A is the end of its sentences (truncated at the front only), B their start (truncated at the end)
        assert x.tokens_a == a_source[len(a_source) - len(x.tokens_a):]
        assert x.tokens_b == b_source[: len(x.tokens_b)]
        assert all(t // 10000 == x.doc_a for t in x.tokens_a)
        assert all(t // 10000 == x.doc_b for t in x.tokens_b)
    for x in negatives:
        assert x.doc_b != x.doc_a and x.label == P.NOT_NEXT
    for x in positives:
        assert x.doc_b == x.doc_a and x.label == P.IS_NEXT
        assert x.sentences_b[0] == x.sentences_a[1]  # B starts with the sentence right after A
        last_a, first_b = x.tokens_a[-1], x.tokens_b[0]
        assert (first_b % 10000) // 10 == (last_a % 10000) // 10 + 1 and first_b % 10 == 0


def test_nsp_bad_input():
    with pytest.raises(ValueError, match="two non-empty documents"):
        P.make_nsp_instances([[[1, 2, 3]]], max_length=32)
    with pytest.raises(ValueError, match="max_length"):
        P.make_nsp_instances(_synthetic_documents(), max_length=4)


def test_collate_nsp_layout():
    x = P.NSPInstance([10, 11], [20], False, 0, 0, (0, 1), (1, 2))
    y = P.NSPInstance([10, 11, 12], [20, 21, 22], True, 0, 1, (0, 1), (0, 1))
    batch = P.collate_nsp([x, y], cls_id=2, sep_id=3, pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 10, 11, 3, 20, 3, 0, 0, 0], [2, 10, 11, 12, 3, 20, 21, 22, 3]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 0, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1] * 6 + [0] * 3, [1] * 9]
    assert batch["next_sentence_label"].tolist() == [0, 1]


def test_bucket_batches_cover_every_index_once_with_little_padding():
    rng = random.Random(0)
    lengths = [rng.randint(10, 128) for _ in range(5000)]
    batches = P.bucket_batches(lengths, 32, random.Random(1))
    assert sorted(i for b in batches for i in b) == list(range(5000))
    def padding_ratio(groups):
        return sum(len(b) * max(lengths[i] for i in b) for b in groups) / sum(lengths)

    plain = [list(range(i, min(i + 32, 5000))) for i in range(0, 5000, 32)]
    assert padding_ratio(plain) > 1.3  # unsorted batches waste a third of the compute on padding
    assert padding_ratio(batches) < 1.03


# ---------------------------------------------------------------- MLM masking


def _random_batch(seed=0, batch=256, length=128, vocab=8192):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (batch, length), generator=generator)
    ids[:, 0] = 2
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=generator)
    for row, n in enumerate(lengths.tolist()):
        ids[row, n - 1] = 3
        ids[row, n:] = 0
    return ids


def test_masking_proportions_80_10_10_of_15_percent():
    ids = _random_batch()
    special = P.special_tokens_mask_for(ids, SPECIALS)
    replacement = torch.arange(5, 8192)
    masked, labels = P.mask_tokens(ids, special, MASK_ID, replacement, generator=torch.Generator().manual_seed(0))
    selected = labels != P.IGNORE_INDEX
    n_ordinary = int((~special).sum())
    n_selected = int(selected.sum())
    assert n_ordinary > 20000
    assert abs(n_selected / n_ordinary - 0.15) < 0.008  # sd ~0.0023
    as_mask = int((selected & (masked == MASK_ID)).sum())
    unchanged = int((selected & (masked == ids)).sum())
    randomised = n_selected - as_mask - unchanged
    assert abs(as_mask / n_selected - 0.8) < 0.02  # sd ~0.006
    assert abs(randomised / n_selected - 0.1) < 0.015  # sd ~0.005
    assert abs(unchanged / n_selected - 0.1) < 0.015
    # labels hold the original ids exactly where selected, and unselected tokens are untouched
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(masked[~selected], ids[~selected])


def test_special_and_padding_never_masked():
    ids = _random_batch(seed=3)
    special = P.special_tokens_mask_for(ids, SPECIALS)
    for seed in range(5):
        masked, labels = P.mask_tokens(ids, special, MASK_ID, torch.arange(5, 8192),
                                       generator=torch.Generator().manual_seed(seed))
        assert (labels[special] == P.IGNORE_INDEX).all()
        assert torch.equal(masked[special], ids[special])


def test_random_replacements_never_special(wordpiece):
    # a tiny vocabulary makes a wrong draw of a special id very likely if the code allowed it
    ids = torch.randint(5, 12, (400, 64), generator=torch.Generator().manual_seed(0))
    special = torch.zeros_like(ids, dtype=torch.bool)
    masked, labels = P.mask_tokens(ids, special, MASK_ID, torch.arange(5, 12), mlm_probability=0.5,
                                   generator=torch.Generator().manual_seed(1))
    changed = (labels != P.IGNORE_INDEX) & (masked != MASK_ID) & (masked != ids)
    assert changed.sum() > 500
    assert not torch.isin(masked[changed], torch.tensor(SPECIALS)).any()
    # the replacement pool the training loop uses excludes every special token
    pool = P.replacement_ids_for(wordpiece)
    assert not torch.isin(pool, torch.tensor(wordpiece.all_special_ids)).any()
    assert len(pool) == len(wordpiece) - len(set(wordpiece.all_special_ids))


def test_masking_bad_input():
    ids = torch.ones(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        P.mask_tokens(ids, torch.zeros(2, 4, dtype=torch.bool), MASK_ID, torch.arange(5, 9))
    with pytest.raises(ValueError, match="mlm_probability"):
        P.mask_tokens(ids, torch.zeros(2, 3, dtype=torch.bool), MASK_ID, torch.arange(5, 9), mlm_probability=1.5)


# ---------------------------------------------------------------- the fast objective vs transformers


@pytest.fixture(scope="module")
def tiny_bert(wordpiece):
    config = P.get_preset("tiny-bert", hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64)
    model = P.build_model(config, wordpiece)
    model.eval()
    return model


def _masked_batch(tokenizer, texts, seed=0):
    pairs = [(texts[i][: 60 * (i + 1)], texts[i + 1][:80]) for i in range(4)]  # different lengths: padding
    enc = tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True, truncation=True,
                    max_length=96, return_tensors="pt")
    special = P.special_tokens_mask_for(enc["input_ids"], tokenizer.all_special_ids)
    ids, labels = P.mask_tokens(enc["input_ids"], special, tokenizer.mask_token_id,
                                P.replacement_ids_for(tokenizer), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "token_type_ids": enc["token_type_ids"], "attention_mask": enc["attention_mask"],
            "labels": labels, "next_sentence_label": torch.tensor([0, 1, 0, 1])}


def test_fast_objective_equals_transformers_loss(tiny_bert, wordpiece, small_texts):
    batch = _masked_batch(wordpiece, small_texts[0])
    assert (batch["attention_mask"] == 0).any()  # the batch really has padding
    with torch.no_grad():
        ours = P.BertPretrainingObjective(tiny_bert)(**batch)
        reference = tiny_bert(**batch)  # BertForPreTraining's own loss over the full (B, L, V) logits
    selected = batch["labels"] != P.IGNORE_INDEX
    torch.testing.assert_close(ours["mlm_logits"], reference.prediction_logits[selected], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours["nsp_logits"], reference.seq_relationship_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours["loss"], reference.loss, atol=1e-5, rtol=1e-5)


def test_mlm_loss_unchanged_when_padding_is_added(tiny_bert, wordpiece, small_texts):
    batch = _masked_batch(wordpiece, small_texts[0])
    extra = 17
    padded = {
        "input_ids": torch.cat([batch["input_ids"], torch.full((4, extra), wordpiece.pad_token_id)], 1),
        "token_type_ids": torch.cat([batch["token_type_ids"], torch.zeros(4, extra, dtype=torch.long)], 1),
        "attention_mask": torch.cat([batch["attention_mask"], torch.zeros(4, extra, dtype=torch.long)], 1),
        "labels": torch.cat([batch["labels"], torch.full((4, extra), P.IGNORE_INDEX)], 1),
        "next_sentence_label": batch["next_sentence_label"],
    }
    objective = P.BertPretrainingObjective(tiny_bert)
    with torch.no_grad():
        before, after = objective(**batch), objective(**padded)
    torch.testing.assert_close(after["mlm_loss"], before["mlm_loss"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(after["nsp_loss"], before["nsp_loss"], atol=1e-5, rtol=1e-5)


def test_causal_objective_equals_transformers_loss(small_texts):
    tok = P.train_bpe_tokenizer(small_texts[0], vocab_size=600)
    model = P.build_model(P.get_preset("tiny-gpt", hidden_size=32, num_layers=2, num_heads=2,
                                       intermediate_size=64), tok).eval()
    ids = P.pack_blocks(tok(small_texts[0][:3])["input_ids"], 40, tok.eos_token_id)[:3]
    with torch.no_grad():
        ours = P.CausalLMObjective(model)(ids)["loss"]
        reference = model(input_ids=ids, labels=ids).loss
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_pack_blocks_has_no_padding():
    blocks = P.pack_blocks([[5, 6, 7], [8, 9]], block_size=3, eos_id=0)
    assert blocks.tolist() == [[5, 6, 7], [0, 8, 9]]
    with pytest.raises(ValueError, match="not enough tokens"):
        P.pack_blocks([[1]], block_size=8, eos_id=0)


def test_learning_rate_schedule():
    config = P.get_preset("tiny-bert", learning_rate=1.0, warmup_steps=10, min_lr_ratio=0.1)
    rates = [P.learning_rate_at(step, config, 100) for step in range(100)]
    assert rates[9] == pytest.approx(1.0) and rates[0] == pytest.approx(0.1)
    assert all(a <= b for a, b in zip(rates[:9], rates[1:10], strict=True))
    assert all(a >= b for a, b in zip(rates[10:-1], rates[11:], strict=True))
    assert rates[-1] == pytest.approx(0.1, abs=0.01)


def test_presets_and_bad_config():
    assert {"tiny-bert", "tiny-gpt"} <= set(P.PRESETS)
    with pytest.raises(ValueError, match="unknown preset"):
        P.get_preset("huge-bert")
    with pytest.raises(ValueError, match="unknown PretrainConfig field"):
        P.get_preset("tiny-bert", hidden=3)
    with pytest.raises(ValueError, match="divisible"):
        P.get_preset("tiny-bert", hidden_size=30, num_heads=4)


# ---------------------------------------------------------------- the loop: exact resume


def _tiny(kind):
    return P.get_preset(f"tiny-{kind}", vocab_size=400 if kind == "bert" else 600, hidden_size=32,
                        num_layers=1, num_heads=2, intermediate_size=64, max_length=48, batch_size=8,
                        warmup_steps=3, eval_every=4, eval_instances=16, dropout=0.1)


@pytest.mark.parametrize("kind", ["bert", "gpt"])
def test_resume_after_interruption_gives_the_same_weights(kind, small_texts, tmp_path):
    train, held_out = small_texts
    trainer = P.train_wordpiece_tokenizer if kind == "bert" else P.train_bpe_tokenizer
    tokenizer = trainer(train, vocab_size=_tiny(kind).vocab_size)
    common = dict(max_steps=10, train_texts=train, eval_texts=held_out, threads=1, progress=False,
                  final_eval_limit=16, tokenizer=tokenizer)
    straight = P.pretrain(_tiny(kind), tmp_path / "straight", **common)
    first = P.pretrain(_tiny(kind), tmp_path / "resumed", stop_after_steps=4, **common)
    assert first.interrupted and first.steps == 4 and (tmp_path / "resumed" / "state.pt").is_file()
    resumed = P.pretrain(_tiny(kind), tmp_path / "resumed", resume=True, **common)
    assert resumed.steps == straight.steps == 10
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert resumed.final_metrics == straight.final_metrics
    # and training did something
    assert any(not torch.equal(a[k], v) for k, v in P.build_model(_tiny(kind), straight.tokenizer).state_dict().items())


def test_pretrain_refuses_to_overwrite_or_resume_nothing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        P.pretrain("tiny-bert", tmp_path / "empty", max_steps=1, resume=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "state.pt").write_bytes(b"")
    with pytest.raises(FileExistsError, match="resume"):
        P.pretrain("tiny-bert", tmp_path / "busy", max_steps=1)
    with pytest.raises(ValueError, match="minutes or max_steps"):
        P.pretrain("tiny-bert", tmp_path / "x")


def test_export_loads_with_auto_classes(small_texts, tmp_path):
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining, AutoTokenizer, pipeline

    train, held_out = small_texts
    result = P.pretrain(_tiny("bert"), tmp_path / "run", max_steps=3, train_texts=train, eval_texts=held_out,
                        output_dir=tmp_path / "ckpt", threads=1, progress=False, final_eval_limit=16)
    record = json.loads((tmp_path / "ckpt" / "training.json").read_text())
    assert record["steps"] == 3 and record["seed"] == 0 and "torch" in record["versions"]
    assert set(record["held_out_metrics"]) == {"trained", "untrained"}
    tok = AutoTokenizer.from_pretrained(tmp_path / "ckpt")
    model = AutoModelForPreTraining.from_pretrained(tmp_path / "ckpt").eval()
    assert next(model.parameters()).dtype == torch.float32
    reference = result.model.half().float().eval()  # the export is float16
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value, msg=key)
    fill = pipeline("fill-mask", model=AutoModelForMaskedLM.from_pretrained(tmp_path / "ckpt"), tokenizer=tok)
    assert len(fill(f"the {tok.mask_token} of the union")) == 5


def test_cli_has_pretrain():
    from labkit.cli import build_parser

    arguments = build_parser().parse_args(["pretrain", "--preset", "tiny-bert", "--minutes", "2", "--resume"])
    assert arguments.preset == "tiny-bert" and arguments.minutes == 2 and arguments.resume
    with pytest.raises(SystemExit):
        build_parser().parse_args(["pretrain", "--preset", "tiny-bert"])  # no length given


# ---------------------------------------------------------------- the shipped checkpoints


def test_shipped_tiny_bert_loads_and_beats_untrained():
    from labkit.models import load

    tokenizer, model = load("tiny-bert", task="pretraining")
    record = P.shipped_record("tiny-bert")
    assert record["corpus"]["content_sha256"] == P.corpus_hash()
    config = P.config_from_checkpoint("tiny-bert")
    from labkit.data import load_corpus

    corpus = load_corpus()
    data = P.BertData(tokenizer, [], list(corpus["validation"]["text"][:4]), config)
    batches = data.eval_batches(limit=192)
    trained = P.evaluate_bert(model, batches)
    untrained = P.evaluate_bert(P.build_model(config, tokenizer), batches)
    assert trained["mlm_accuracy"] > untrained["mlm_accuracy"] + 0.2
    assert trained["mlm_perplexity"] < untrained["mlm_perplexity"] / 10
    assert trained["nsp_accuracy"] > 0.6  # 192 pairs: chance would exceed this with p < 0.003
    for task in ("masked-lm", "base", "sequence-classification"):
        assert load("tiny-bert", task=task).model is not None
    # the recorded held-out figures say the same
    metrics = record["held_out_metrics"]
    assert metrics["trained"]["mlm_accuracy"] > metrics["untrained"]["mlm_accuracy"]
    assert metrics["trained"]["nsp_accuracy"] > metrics["untrained"]["nsp_accuracy"]


def test_shipped_tiny_gpt_loads_and_beats_untrained():
    from labkit.models import load

    tokenizer, model = load("tiny-gpt", task="causal-lm")
    config = P.config_from_checkpoint("tiny-gpt")
    from labkit.data import load_corpus

    held_out = list(load_corpus()["validation"]["text"][:2])
    data = P.GPTData(tokenizer, [], held_out, config)
    batches = data.eval_batches(limit=32)
    trained = P.evaluate_gpt(model, batches)["perplexity"]
    untrained = P.evaluate_gpt(P.build_model(config, tokenizer), batches)["perplexity"]
    assert trained < untrained / 10 and math.isfinite(trained)
    generated = model.generate(**tokenizer("The state of the Union", return_tensors="pt"), max_new_tokens=5,
                               do_sample=False, pad_token_id=tokenizer.eos_token_id)
    assert generated.shape[1] > 5


def test_evaluate_gpt_is_the_hugging_face_loss_whatever_the_rows_at_once():
    """Perplexity = exp of the mean next-token cross-entropy, as Hugging Face computes it with labels=input_ids;
    running a batch a few rows at a time (to bound memory) changes nothing but the rounding."""
    from labkit.data import load_corpus
    from labkit.models import load

    tokenizer, model = load("tiny-gpt", task="causal-lm")
    config = P.config_from_checkpoint("tiny-gpt")
    data = P.GPTData(tokenizer, [], list(load_corpus()["validation"]["text"][:1]), config)
    batches = data.eval_batches(limit=7, batch_size=7)
    with torch.no_grad():
        reference = model(input_ids=batches[0]["input_ids"], labels=batches[0]["input_ids"]).loss.item()
    for rows in (1, 3, 7):
        metrics = P.evaluate_gpt(model, batches, rows_at_once=rows)
        assert math.isclose(metrics["perplexity"], math.exp(reference), rel_tol=1e-5), rows
        assert metrics["tokens"] == batches[0]["input_ids"].numel() - 7  # every position but each block's first


def test_pretraining_curves_figure():
    from matplotlib.figure import Figure

    from labkit import viz

    log = [{"step": s, "val_mlm_accuracy": 0.1 * s, "val_nsp_accuracy": 0.5, "val_mlm_perplexity": 100 / s,
            "train_loss": 5 - s} for s in (1, 2, 3)]
    figure = viz.pretraining_curves(log, title="t")
    assert isinstance(figure, Figure) and len(figure.axes) == 3
    assert len(viz.pretraining_curves([{"step": 1, "val_perplexity": 9.0}]).axes) == 1
    with pytest.raises(ValueError, match="at least one"):
        viz.pretraining_curves([])
    with pytest.raises(ValueError, match="no known metric"):
        viz.pretraining_curves([{"step": 1, "foo": 2.0}])


def test_format_masked_marks_each_case(wordpiece):
    ids = torch.tensor([2, 10, 11, 12, 13, 3, 0])
    masked = torch.tensor([2, MASK_ID, 20, 12, 13, 3, 0])
    labels = torch.tensor([-100, 10, 11, 12, -100, -100, -100])
    tok = wordpiece.convert_ids_to_tokens
    text = P.format_masked(wordpiece, ids, masked, labels)
    assert text == f"[CLS] [MASK]>{tok(10)} ~{tok(20)}~>{tok(11)} ={tok(12)}= {tok(13)} [SEP]"


def test_heap_fragmentation_limit_is_applied_on_linux():
    import sys

    applied = P.limit_heap_fragmentation()
    assert applied == sys.platform.startswith("linux")


# ---------------------------------------------------------------- continued (domain-adaptive) pretraining


def test_single_segment_instances_and_their_layout():
    documents = [[[10, 11], [12]], [], [[20, 21, 22, 23, 24, 25, 26, 27, 28]]]
    instances = P.make_single_segment_instances(documents, max_length=8)
    assert [i.tokens_a for i in instances] == [[10, 11, 12], [20, 21, 22, 23, 24, 25]]  # joined; cut to 8 - 2
    assert all(i.tokens_b == [] and i.label == P.IS_NEXT for i in instances) and [len(i) for i in instances] == [5, 8]
    batch = P.collate_nsp(instances, cls_id=2, sep_id=3, pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 10, 11, 12, 3, 0, 0, 0], [2, 20, 21, 22, 23, 24, 25, 3]]
    assert batch["token_type_ids"].sum() == 0 and batch["attention_mask"].sum(1).tolist() == [5, 8]
    with pytest.raises(ValueError, match="at least 8"):
        P.make_single_segment_instances(documents, max_length=4)


def test_mlm_only_objective_is_the_mlm_loss_and_leaves_nsp_untrained(tiny_bert, wordpiece, small_texts):
    batch = _masked_batch(wordpiece, small_texts[0])
    out = P.BertPretrainingObjective(tiny_bert, next_sentence_prediction=False)(**batch)
    reference = tiny_bert(**{k: v for k, v in batch.items() if k not in {"labels", "next_sentence_label"}})
    selected = batch["labels"] != P.IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(reference.prediction_logits[selected], batch["labels"][selected])
    torch.testing.assert_close(out["loss"], expected, atol=1e-5, rtol=1e-5)
    assert out["nsp_loss"].item() == 0.0
    tiny_bert.zero_grad()
    out["loss"].backward()
    assert tiny_bert.cls.seq_relationship.weight.grad is None or not tiny_bert.cls.seq_relationship.weight.grad.any()
    tiny_bert.zero_grad()


def test_continued_pretraining_starts_from_the_checkpoint_and_resumes_exactly(small_texts, tmp_path):
    train, held_out = small_texts
    P.pretrain(_tiny("bert"), tmp_path / "base-run", max_steps=3, train_texts=train, eval_texts=held_out,
               output_dir=tmp_path / "base", threads=1, progress=False, final_eval_limit=16)
    sentences = [s for text in train for s in P.split_sentences(text)][:200]
    config = dataclasses.replace(_tiny("bert"), name="adapted", next_sentence_prediction=False,
                                 initial_checkpoint=str(tmp_path / "base"), learning_rate=1e-3)
    common = dict(max_steps=8, train_texts=sentences[:160], eval_texts=sentences[160:], threads=1, progress=False,
                  final_eval_limit=16)
    straight = P.pretrain(config, tmp_path / "straight", output_dir=tmp_path / "adapted", **common)
    assert set(straight.final_metrics) == {"mlm_accuracy", "mlm_perplexity", "masked_tokens"}  # no NSP
    # the untrained metrics are those of the starting checkpoint, not of a fresh model
    _, start = P.load_initial_checkpoint(config)
    data = P.BertData(straight.tokenizer, sentences[:160], sentences[160:], config)
    untrained = P.evaluate_bert(start, data.eval_batches(limit=16), next_sentence_prediction=False)
    assert untrained == straight.untrained_metrics
    # same tokenizer as the checkpoint, and training moved the weights
    from transformers import AutoTokenizer

    assert straight.tokenizer.get_vocab() == AutoTokenizer.from_pretrained(tmp_path / "base").get_vocab()
    assert any(not torch.equal(v, straight.model.state_dict()[k]) for k, v in start.state_dict().items())
    record = json.loads((tmp_path / "adapted" / "training.json").read_text())
    assert record["preset"]["initial_checkpoint"] == str(tmp_path / "base")
    base_sha256 = P.file_sha256(tmp_path / "base" / "model.safetensors")
    assert record["initial_checkpoint"]["model_safetensors_sha256"] == base_sha256
    # exact resume, as for pretraining from scratch
    P.pretrain(config, tmp_path / "resumed", stop_after_steps=3, **common)
    resumed = P.pretrain(config, tmp_path / "resumed", resume=True, **common)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # a checkpoint of another shape is refused with a clear message
    with pytest.raises(ValueError, match="has shape"):
        P.load_initial_checkpoint(dataclasses.replace(config, hidden_size=64))


def test_domain_adaptation_preset_and_bad_settings():
    preset = P.get_preset("tiny-bert-movies")
    assert preset.initial_checkpoint == "tiny-bert" and preset.corpus == "movies"
    assert not preset.next_sentence_prediction
    with pytest.raises(ValueError, match="corpus must be one of"):
        P.get_preset("tiny-bert", corpus="wikipedia")
    with pytest.raises(ValueError, match="BERT setting"):
        P.get_preset("tiny-gpt", next_sentence_prediction=False)
