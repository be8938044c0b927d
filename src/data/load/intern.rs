//! Interning of text labels (account ids, segments, categories) into dense codes; labels
//! of up to 12 bytes by their polars view alone, without copying the text.

use super::*;

/// Labels interned as codes, over as many batches of a column as come; empty is missing.
#[derive(Default)]
pub(super) struct Interner {
    /// polars keeps a string of up to 12 bytes inside its 16-byte view: a label that short
    /// is keyed by the view of its trimmed text ([`inline_key`]), so most rows find their
    /// code by comparing or hashing a `u128`, without reading or trimming the text, and a
    /// new label costs no allocation. A view that trims to a label (padded with blanks) is
    /// kept as a second key of that label's code.
    pub(super) by_view: FxHashMap<u128, u32>,
    /// The short labels in code order, by their keys.
    pub(super) short: Vec<(u32, u128)>,
    /// Labels longer than 12 bytes.
    pub(super) by_text: FxHashMap<Box<str>, u32>,
    /// The code and label given to missing values, when they have one.
    pub(super) missing: Option<(u32, String)>,
    pub(super) len: u32,
}

/// The longest string polars keeps inside its view.
pub(super) const INLINE: usize = 12;

/// The view polars gives a string of up to [`INLINE`] bytes: its length, then its bytes, then
/// zeros (`View::new_inline`; a test holds the two equal).
pub(super) fn inline_key(text: &[u8]) -> u128 {
    debug_assert!(text.len() <= INLINE);
    let mut view = [0u8; 16];
    view[..4].copy_from_slice(&(text.len() as u32).to_ne_bytes());
    view[4..4 + text.len()].copy_from_slice(text);
    u128::from_ne_bytes(view)
}

/// The label an [`inline_key`] holds.
pub(super) fn inline_label(key: u128) -> String {
    let view = key.to_ne_bytes();
    let len = u32::from_ne_bytes(view[..4].try_into().expect("4 bytes")) as usize;
    String::from_utf8_lossy(&view[4..4 + len]).into_owned()
}

impl Interner {
    /// Appends the codes of `s`'s values to `codes`; a missing value is
    /// [`MetricColumn::MISSING_CODE`], or the code of `missing_label` when given.
    pub(super) fn push(
        &mut self,
        s: &Series,
        ctx: Ctx,
        missing_label: Option<&str>,
        codes: &mut Vec<u32>,
    ) -> Result<(), DataError> {
        let as_text = s
            .cast(&DataType::String)
            .map_err(|e| ctx.bad(0, &e.to_string(), "text"))?;
        let ca = as_text.str().expect("string");
        codes.reserve(ca.len());
        for (arr, chunk) in ca.downcast_iter().zip(ca.chunks()) {
            let views = arr.views();
            // (Through the chunk's `dyn Array`: polars does not re-export the `Array` trait.)
            let validity = chunk.validity();
            // Exports list an account's snapshots together and a label repeats in runs: a
            // view equal to the previous row's takes its code without a lookup.
            let mut last: Option<(u128, u32)> = None;
            for (i, view) in views.iter().enumerate() {
                let bits = view.as_u128();
                let valid = validity.is_none_or(|v| v.get_bit(i));
                if valid {
                    if let Some((_, c)) = last.filter(|&(l, _)| l == bits) {
                        codes.push(c);
                        continue;
                    }
                    if view.is_inline() {
                        if let Some(&c) = self.by_view.get(&bits) {
                            codes.push(c);
                            last = Some((bits, c));
                            continue;
                        }
                    }
                }
                let t = if valid { arr.value(i).trim() } else { "" };
                if t.is_empty() {
                    codes.push(match missing_label {
                        None => MetricColumn::MISSING_CODE,
                        Some(l) => self.missing_code(l),
                    });
                    continue;
                }
                let code = if t.len() <= INLINE {
                    let key = inline_key(t.as_bytes());
                    let code = match self.by_view.get(&key) {
                        Some(&c) => c,
                        None => {
                            let c = self.next_code();
                            self.by_view.insert(key, c);
                            self.short.push((c, key));
                            c
                        }
                    };
                    if view.is_inline() && bits != key {
                        self.by_view.insert(bits, code);
                    }
                    code
                } else {
                    match self.by_text.get(t) {
                        Some(&c) => c,
                        None => {
                            let c = self.next_code();
                            self.by_text.insert(t.into(), c);
                            c
                        }
                    }
                };
                codes.push(code);
                last = Some((bits, code));
            }
        }
        Ok(())
    }

    pub(super) fn next_code(&mut self) -> u32 {
        self.len += 1;
        self.len - 1
    }

    pub(super) fn missing_code(&mut self, label: &str) -> u32 {
        if let Some((c, _)) = self.missing {
            return c;
        }
        let c = self.next_code();
        self.missing = Some((c, label.to_string()));
        c
    }

    /// Extends `labels`, the labels of the codes below its length, with those given since.
    pub(super) fn extend_labels(&self, labels: &mut Vec<String>) {
        let from = labels.len();
        if from == self.len as usize {
            return;
        }
        labels.resize(self.len as usize, String::new());
        let new = |c: u32| c as usize >= from;
        let first_new = self.short.partition_point(|&(c, _)| !new(c));
        for &(c, key) in &self.short[first_new..] {
            labels[c as usize] = inline_label(key);
        }
        for (text, &c) in self.by_text.iter().filter(|(_, &c)| new(c)) {
            labels[c as usize] = text.to_string();
        }
        if let Some((c, label)) = self.missing.as_ref().filter(|(c, _)| new(*c)) {
            labels[*c as usize] = label.clone();
        }
    }

    /// The labels by code.
    pub(super) fn into_labels(self) -> Vec<String> {
        if self.short.len() == self.len as usize {
            // Short labels only (account ids, often): in code order already.
            return self
                .short
                .par_iter()
                .map(|&(_, key)| inline_label(key))
                .collect();
        }
        let mut labels = vec![String::new(); self.len as usize];
        for (c, key) in self.short {
            labels[c as usize] = inline_label(key);
        }
        for (text, c) in self.by_text {
            labels[c as usize] = text.into_string();
        }
        if let Some((c, label)) = self.missing {
            labels[c as usize] = label;
        }
        labels
    }
}
