//! The label art. 16 asks for on every disc: producing unit, producer, production
//! time, the enforcement activity's or case's name and number, and which of the two
//! copies this is. It is a payload file (`data/label.txt`), so the manifests cover it.

use serde::{Deserialize, Serialize};

/// The regulation's label fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// 制作单位: the unit that made the copy
    pub unit: String,
    /// 制作人: who made it
    pub producer: String,
    /// 制作时间: when (RFC 3339)
    pub produced_at: String,
    /// 执法活动或者案件名称: the activity's (or case's) name
    pub name: String,
    /// 编号: the activity's (or case's) number
    pub number: String,
    /// which copy this is (1 or 2) ...
    pub copy: u8,
    /// ... of how many (the regulation asks for two)
    pub copies: u8,
}

/// The file's keys, in order: Chinese as on the disc, English for a reader who needs it.
const KEYS: [(&str, &str); 6] = [
    ("制作单位", "producing unit"),
    ("制作人", "producer"),
    ("制作时间", "production time"),
    ("执法活动或案件名称", "activity or case name"),
    ("编号", "number"),
    ("份号", "copy"),
];

/// A label file that lacks a field or has one that is not what it should be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelError {
    /// a field is missing or empty
    #[error("the label has no {0}")]
    Missing(&'static str),
    /// the copy field is not "N/M" with 1 <= N <= M
    #[error("the label's copy field '{0}' is not N/M (for example 1/2)")]
    BadCopy(String),
}

impl Label {
    /// The label as its file holds it.
    pub fn render(&self) -> String {
        let values = [
            self.unit.clone(),
            self.producer.clone(),
            self.produced_at.clone(),
            self.name.clone(),
            self.number.clone(),
            format!("{}/{}", self.copy, self.copies),
        ];
        let mut out =
            String::from("# 执法音像记录光盘标签 (Jilu preservation copy label, art. 16)\n");
        for ((zh, en), v) in KEYS.iter().zip(values) {
            out.push_str(&format!("{zh} ({en}): {}\n", one_line(&v)));
        }
        out
    }

    /// Reads a label file.
    pub fn parse(text: &str) -> Result<Label, LabelError> {
        let field = |zh: &'static str, en: &'static str| -> Result<String, LabelError> {
            let prefix = format!("{zh} ({en}):");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or(LabelError::Missing(en))
        };
        let copy = field(KEYS[5].0, KEYS[5].1)?;
        let (n, m) = copy
            .split_once('/')
            .and_then(|(n, m)| Some((n.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
            .filter(|&(n, m)| n >= 1 && n <= m)
            .ok_or_else(|| LabelError::BadCopy(copy.clone()))?;
        Ok(Label {
            unit: field(KEYS[0].0, KEYS[0].1)?,
            producer: field(KEYS[1].0, KEYS[1].1)?,
            produced_at: field(KEYS[2].0, KEYS[2].1)?,
            name: field(KEYS[3].0, KEYS[3].1)?,
            number: field(KEYS[4].0, KEYS[4].1)?,
            copy: n,
            copies: m,
        })
    }
}

/// A field value kept to one line (a label is read by people and by `parse`).
fn one_line(v: &str) -> String {
    v.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> Label {
        Label {
            unit: "叶县市场监督管理局 法规和执法监督科".into(),
            producer: "王芳".into(),
            produced_at: "2026-12-02T10:00:00+08:00".into(),
            name: "食品经营许可现场核查 某企业财务室".into(),
            number: "A-410422-001".into(),
            copy: 2,
            copies: 2,
        }
    }

    #[test]
    fn round_trip() {
        assert_eq!(Label::parse(&label().render()).unwrap(), label());
    }

    #[test]
    fn a_missing_or_bad_field_is_named() {
        let text = label().render().replace("制作人 (producer): 王芳\n", "");
        assert_eq!(Label::parse(&text), Err(LabelError::Missing("producer")));
        let text = label().render().replace("2/2", "3/2");
        assert_eq!(Label::parse(&text), Err(LabelError::BadCopy("3/2".into())));
    }
}
