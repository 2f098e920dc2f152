//! The catalogue of enforcement matters that must be recorded (art. 6 and the annex
//! 《执法音像记录事项清单》), with the annex's columns.

use serde::{Deserialize, Serialize};

/// One row of the annex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matter {
    /// short stable id, e.g. "1" for the annex's first row
    pub id: String,
    /// 执法类别, e.g. 行政检查
    pub category: String,
    /// 执法事项, e.g. 调查取证
    pub matter: String,
    /// 记录环节
    pub stage: String,
    /// 执法场所
    pub venue: String,
    /// 记录人
    pub recorder: String,
    /// 记录开始时间
    pub start_trigger: String,
    /// 记录内容
    pub content: String,
    /// 记录结束时间
    pub end_trigger: String,
    /// 记录存储时间 (as the annex words it)
    pub storage: String,
    /// 执法记录类别, e.g. 场景类
    pub record_category: String,
    /// whether recording is mandatory for this matter (the annex lists only such matters)
    pub must_record: bool,
    /// days to keep footage before a purge may be proposed (art. 15: 3 months)
    pub retention_days: u32,
}

/// Name of the city-wide catalogue document.
pub const CATALOGUE: &str = "catalogue";

/// The catalogue document as first issued: its one change is byte-identical on
/// every node (fixed actor and time), so independently seeded copies merge into one
/// history (see [`crate::doc::seeded`]).
pub fn seed_catalogue() -> Result<automerge::AutoCommit, crate::doc::DocError> {
    let rows: Vec<(String, Matter)> = annex().into_iter().map(|m| (m.id.clone(), m)).collect();
    crate::doc::seeded("jilu-annex-2019", &["matters"], &rows)
}

/// Art. 15: footage is kept for three months.
pub const DEFAULT_RETENTION_DAYS: u32 = 92;

/// The annex's two rows, as issued (平统〔2019〕30号, 附件).
pub fn annex() -> Vec<Matter> {
    vec![
        Matter {
            id: "1".into(),
            category: "行政检查".into(),
            matter: "调查取证".into(),
            stage: "调查笔录".into(),
            venue: "调查现场".into(),
            recorder: "检查人员".into(),
            start_trigger: "进入检查现场时".into(),
            content: "记录当事人或在场有关人员不配合调查笔录审核及签字的过程及结果".into(),
            end_trigger: "离开检查现场时".into(),
            storage: "与文字材料存储时间一致".into(),
            record_category: "场景类".into(),
            must_record: true,
            retention_days: DEFAULT_RETENTION_DAYS,
        },
        Matter {
            id: "2".into(),
            category: "行政处罚".into(),
            matter: "听证".into(),
            stage: "调查取证".into(),
            venue: "听证会场".into(),
            recorder: "听证记录员".into(),
            start_trigger: "举行听证会开始".into(),
            content: "听证全过程".into(),
            end_trigger: "听证会议结束".into(),
            storage: "与文字材料存储时间一致".into(),
            record_category: "会议类".into(),
            must_record: true,
            retention_days: DEFAULT_RETENTION_DAYS,
        },
    ]
}
