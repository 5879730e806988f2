//! The size limit of answers (`--max-answer-bytes`): an answer that would
//! be longer keeps as many of its items as fit, and says so.

use serde_json::Value;

/// How long an answer may be, in bytes of compact JSON.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    bytes: usize,
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        Budget { bytes }
    }

    /// The limit in bytes.
    pub fn bytes(self) -> usize {
        self.bytes
    }

    /// Whether `answer` fits.
    pub fn fits(self, answer: &Value) -> bool {
        size(answer) <= self.bytes
    }

    /// The answer `build` makes of the first `n` of `total` items, with the
    /// largest `n` that fits (at least 0 items: the answer then says why),
    /// and that `n`.
    pub fn largest(self, total: usize, build: impl Fn(usize) -> Value) -> (Value, usize) {
        let whole = build(total);
        if self.fits(&whole) {
            return (whole, total);
        }
        // The largest n in [0, total) that fits, by bisection.
        let (mut fits, mut too_long) = (0, total);
        while too_long - fits > 1 {
            let middle = fits + (too_long - fits) / 2;
            if self.fits(&build(middle)) {
                fits = middle;
            } else {
                too_long = middle;
            }
        }
        (build(fits), fits)
    }
}

/// Serializes an answer (answers are plain data: this cannot fail).
pub fn json(answer: &impl serde::Serialize) -> Value {
    serde_json::to_value(answer).unwrap_or(Value::Null)
}

/// The length of `value` as compact JSON.
fn size(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_answer_keeps_the_most_items_that_fit() {
        let build = |n: usize| json!({ "rows": vec!["x".repeat(10); n] });
        let budget = Budget::new(100);
        let (answer, kept) = budget.largest(50, build);
        assert!(budget.fits(&answer));
        assert!(!budget.fits(&build(kept + 1)), "one more would not fit");
        assert_eq!(answer["rows"].as_array().unwrap().len(), kept);
        assert_eq!(Budget::new(10_000).largest(5, build).1, 5);
    }
}
