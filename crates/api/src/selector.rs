//! Label selectors as Gloo's delegate action writes them: plain `labels` (all must match) and
//! `expressions` with Kubernetes-like operators.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expressions: Vec<Expression>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expression {
    pub key: String,
    pub operator: ExpressionOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Gloo's selector operators. `GreaterThan` and `LessThan` compare integers; a label that is not
/// an integer does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpressionOperator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl LabelSelector {
    /// True when every label and every expression holds for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|e| e.matches(labels))
    }

    /// Problems that make the selector meaningless, as `(field, reason)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, e) in self.expressions.iter().enumerate() {
            if let Some(reason) = e.problem() {
                out.push((format!("expressions[{i}]"), reason));
            }
        }
        out
    }
}

impl Expression {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        use ExpressionOperator::*;
        let value = labels.get(&self.key);
        match self.operator {
            Equals | DoubleEquals | In => value.is_some_and(|v| self.values.contains(v)),
            NotEquals | NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Exists => value.is_some(),
            DoesNotExist => value.is_none(),
            GreaterThan | LessThan => {
                let (Some(Ok(have)), Some(Ok(want))) = (
                    value.map(|v| v.parse::<i64>()),
                    self.values.first().map(|v| v.parse::<i64>()),
                ) else {
                    return false;
                };
                if self.operator == GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }

    fn problem(&self) -> Option<String> {
        use ExpressionOperator::*;
        let n = self.values.len();
        match self.operator {
            Exists | DoesNotExist if n > 0 => {
                Some(format!("operator {:?} takes no values", self.operator))
            }
            Equals | DoubleEquals | NotEquals if n != 1 => Some(format!(
                "operator {:?} takes exactly one value",
                self.operator
            )),
            In | NotIn if n == 0 => Some(format!(
                "operator {:?} needs at least one value",
                self.operator
            )),
            GreaterThan | LessThan if n != 1 || self.values[0].parse::<i64>().is_err() => {
                Some(format!(
                    "operator {:?} takes exactly one integer value",
                    self.operator
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, operator: ExpressionOperator, values: &[&str]) -> LabelSelector {
        LabelSelector {
            labels: BTreeMap::new(),
            expressions: vec![Expression {
                key: key.into(),
                operator,
                values: values.iter().map(|v| v.to_string()).collect(),
            }],
        }
    }

    #[test]
    fn labels_must_all_match() {
        let sel = LabelSelector {
            labels: labels(&[("team", "echo")]),
            expressions: vec![],
        };
        assert!(sel.matches(&labels(&[("team", "echo"), ("x", "y")])));
        assert!(!sel.matches(&labels(&[("team", "foxtrot")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }

    #[test]
    fn operators() {
        use ExpressionOperator::*;
        let l = labels(&[("tier", "2"), ("team", "echo")]);
        assert!(expr("team", In, &["echo", "x"]).matches(&l));
        assert!(!expr("team", NotIn, &["echo"]).matches(&l));
        assert!(expr("missing", NotIn, &["echo"]).matches(&l));
        assert!(expr("tier", GreaterThan, &["1"]).matches(&l));
        assert!(!expr("tier", LessThan, &["1"]).matches(&l));
        assert!(!expr("team", GreaterThan, &["1"]).matches(&l));
        assert!(expr("team", Exists, &[]).matches(&l));
        assert!(expr("nope", DoesNotExist, &[]).matches(&l));
        assert!(expr("team", Equals, &["echo"]).matches(&l));
        assert!(expr("team", NotEquals, &["x"]).matches(&l));
    }

    #[test]
    fn problems_are_named() {
        use ExpressionOperator::*;
        assert_eq!(expr("a", Exists, &["x"]).problems()[0].0, "expressions[0]");
        assert!(expr("a", In, &[]).problems()[0].1.contains("at least one"));
        assert!(
            expr("a", GreaterThan, &["x"]).problems()[0]
                .1
                .contains("integer")
        );
        assert!(expr("a", In, &["x"]).problems().is_empty());
    }
}
