//! The BERT sentence encoder behind `plume sdq report`, on a small random checkpoint written
//! here (the real all-MiniLM-L6-v2 is a `make minilm` download, not a test input): token ids
//! equal to the Hugging Face `tokenizers` library's, embeddings equal to an independent NumPy
//! forward pass (`bert_check.py`), and the report's table and plot written for it.

use super::common;
use plume_sim::rng::XorShift;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use std::path::Path;
use std::process::Command;

const VOCAB: [&str; 30] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "on", "mat", "dog", "##s", "run",
    "##ning", "!", ",", ".", "a", "hello", "world", "##ed", "cafe", "naive", "'", "t", "isn",
    "play", "##er", "un", "##believ", "##able",
];

/// A BERT checkpoint: vocabulary above, hidden 16, 2 heads, 2 layers, feed-forward 32.
fn write_model(dir: &Path) {
    let (h, ff, pos) = (16usize, 32usize, 40usize);
    let mut rng = XorShift::new(77);
    let mut rand = |n: usize, s: f64| -> Vec<u8> {
        (0..n)
            .flat_map(|_| {
                let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                (((u - 0.5) * 2.0 * s) as f32).to_le_bytes()
            })
            .collect()
    };
    let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![VOCAB.len(), h],
            rand(VOCAB.len() * h, 1.0),
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![pos, h],
            rand(pos * h, 0.3),
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, h],
            rand(2 * h, 0.3),
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h], rand(h, 2.0)),
        ("embeddings.LayerNorm.bias".into(), vec![h], rand(h, 0.2)),
    ];
    for l in 0..2 {
        let p = format!("encoder.layer.{l}");
        for (name, out, inp) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", ff, h),
            ("output.dense", h, ff),
        ] {
            named.push((
                format!("{p}.{name}.weight"),
                vec![out, inp],
                rand(out * inp, 0.5),
            ));
            named.push((format!("{p}.{name}.bias"), vec![out], rand(out, 0.1)));
        }
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            named.push((format!("{p}.{n}.weight"), vec![h], rand(h, 2.0)));
            named.push((format!("{p}.{n}.bias"), vec![h], rand(h, 0.2)));
        }
    }
    let views: Vec<(String, TensorView)> = named
        .iter()
        .map(|(n, s, d)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), d).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    let vocab: serde_json::Map<String, serde_json::Value> = VOCAB
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), serde_json::json!(i)))
        .collect();
    let special = |t: &str, id: usize| {
        serde_json::json!({"id": id, "content": t, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let tok = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special("[PAD]", 0), special("[UNK]", 1), special("[CLS]", 2), special("[SEP]", 3)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
            "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100, "vocab": vocab},
    });
    std::fs::write(dir.join("tokenizer.json"), tok.to_string()).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"num_attention_heads": 2, "hidden_size": 16}"#,
    )
    .unwrap();
}

/// Token ids equal the `tokenizers` library's — lower-casing, accents, punctuation, sub-words,
/// unknown words — and embeddings equal NumPy's to float32 rounding.
#[test]
fn the_encoder_agrees_with_tokenizers_and_numpy() {
    let t = common::TempDir::new("sdq-bert").unwrap();
    write_model(t.path());
    let texts = [
        "The cat sat on the mat.",
        "Hello, WORLD! The dogs' running…",
        "Café naïve: the player isn't unbelievable",
        "zzz qqq the mats",
        "",
    ];
    let mut args = vec!["sdq", "embed", "--model", t.path().to_str().unwrap()];
    for x in &texts {
        args.extend_from_slice(&["--text", x]);
    }
    let o = common::plume(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&common::stdout(&o)).unwrap();
    // Independent of Python: the first sentence's pieces, and an unknown word.
    assert_eq!(
        json[0]["ids"],
        serde_json::json!([2, 4, 5, 6, 7, 4, 8, 15, 3])
    );
    assert_eq!(json[3]["ids"], serde_json::json!([2, 1, 1, 4, 8, 10, 3]));
    let emb: Vec<f64> = serde_json::from_value(json[0]["embedding"].clone()).unwrap();
    assert!((emb.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-5);
    if !common::python_has("numpy") || !common::python_has("tokenizers") {
        return;
    }
    let file = t.path().join("plume.json");
    std::fs::write(&file, common::stdout(&o)).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdq/bert_check.py");
    let c = Command::new("python3")
        .args([script, t.path().to_str().unwrap(), file.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&c.stdout).to_string();
    assert!(
        c.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&c.stderr)
    );
    assert!(out.contains("agrees with NumPy and tokenizers"), "{out}");
}

/// The report runs every method on the small encoder and writes its table and plot; a
/// directory without a tokenizer is refused before anything is written.
#[test]
fn the_report_writes_a_table_and_a_plot() {
    let t = common::TempDir::new("sdq-report").unwrap();
    write_model(t.path());
    let out = t.path().join("rep");
    let o = common::plume(&[
        "sdq",
        "report",
        "--model",
        t.path().to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let methods = r["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 9);
    assert_eq!(r["pairs"], 276);
    // 8-bit weights keep the embeddings closer than 4-bit ones, and SDQ's configuration cost
    // is the one stated.
    let cos = |name: &str| {
        methods.iter().find(|m| m["method"] == name).unwrap()["embedding_cosine_mean"]
            .as_f64()
            .unwrap()
    };
    assert!(cos("MX INT8") > cos("MXFP4"));
    assert_eq!(methods[0]["bits_per_weight"], 7.125);
    let svg = std::fs::read_to_string(out.join("quality.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("bits per weight"));
    std::fs::remove_file(t.path().join("tokenizer.json")).unwrap();
    let out2 = t.path().join("rep2");
    let o = common::plume(&[
        "sdq",
        "report",
        "--model",
        t.path().to_str().unwrap(),
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        common::stderr(&o).contains("cannot read"),
        "{}",
        common::stderr(&o)
    );
    assert!(!out2.exists());
}
