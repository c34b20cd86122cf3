//! Why an action was refused, in the viewer's language: every `ServiceError` a form can meet is
//! translated by its variant, with its fields (the stage, the person, the field named) put into
//! the sentence. The API keeps the errors' English `Display` for its problem+json; the console
//! never shows that `Display` to a Chinese viewer, except for the few texts written by others
//! (a plugin's reason, a guest's failure) and the domain's field messages it has no template for.
//!
//! The domain's field messages (`FieldError::message`) are free text; `MESSAGES` holds each of
//! their shapes in English beside its Chinese, `{}` standing for what varies.

use crate::i18n::Lang;
use steward_domain::process::{Process, TransitionError};
use steward_domain::FieldError;
use steward_services::{ServiceError, SignInError};

pub struct RefusalTexts {
    /// `{what}` is a thing's name (`what_label`).
    pub not_found: &'static str,
    pub stale: &'static str,
    pub unknown_stage: &'static str,
    pub already_there: &'static str,
    pub not_allowed: &'static str,
    pub review_required: &'static str,
    pub vetoed: &'static str,
    pub guard_failed: &'static str,
    pub plugin_failed: &'static str,
    pub certification: &'static str,
    pub reopen_window: &'static str,
    pub wrong_credentials: &'static str,
    pub throttled: &'static str,
    pub forbidden: &'static str,
    pub unavailable: &'static str,
    /// One field's message, where it is not shown beside its input: `{field}: {message}`.
    pub field: &'static str,
    /// Between the messages of several fields.
    pub separator: &'static str,
    /// The console's own checks of a posted form.
    pub form_version: &'static str,
    pub pick_visibility: &'static str,
    pub score_number: &'static str,
    pub thing_ticket: &'static str,
    pub thing_action: &'static str,
    pub thing_other: &'static str,
    pub field_body: &'static str,
    pub field_note: &'static str,
    pub field_reason: &'static str,
    pub field_override_reason: &'static str,
    pub field_assignee: &'static str,
    pub field_priority: &'static str,
    pub field_partner: &'static str,
    pub field_outcome: &'static str,
    pub field_score: &'static str,
    pub field_notes: &'static str,
    pub field_stage: &'static str,
    pub field_visibility: &'static str,
    pub field_version: &'static str,
    pub field_status: &'static str,
    pub field_file: &'static str,
    pub field_comment: &'static str,
    pub thing_attachment: &'static str,
}

pub fn texts(lang: Lang) -> &'static RefusalTexts {
    match lang {
        Lang::En => &EN,
        Lang::Zh => &ZH,
    }
}

pub static EN: RefusalTexts = RefusalTexts {
    not_found: "{what} not found",
    stale: "the ticket has changed: it is now at version {current}",
    unknown_stage: "stage {to} does not exist in process {process}",
    already_there: "the ticket is already in stage {stage}",
    not_allowed: "cannot move from {from} to {to}",
    review_required: "stage {stage} requires a passing quality review before the ticket leaves it",
    vetoed: "{plugin}: {reason}",
    guard_failed: "plugin {plugin} could not decide, so the move is refused: {reason}",
    plugin_failed: "plugin {plugin} failed: {detail}",
    certification: "{person} ({id}) does not hold a valid {certification} certification (it is {state}), which stage {stage} requires",
    reopen_window: "the reopen window has passed",
    wrong_credentials: "the email or password is wrong",
    throttled: "too many failed sign-ins; try again in {seconds} s",
    forbidden: "your role does not allow this",
    unavailable: "this could not be completed just now; please try again in a moment",
    field: "{field}: {message}",
    separator: "; ",
    form_version: "version: the form lacks the version it was shown at; reload the page",
    pick_visibility: "visibility: choose a public reply or an internal note",
    score_number: "score: a whole number from 0 to 100",
    thing_ticket: "ticket",
    thing_action: "action",
    thing_other: "record",
    field_body: "body",
    field_note: "note",
    field_reason: "reason",
    field_override_reason: "override_reason",
    field_assignee: "assignee",
    field_priority: "priority",
    field_partner: "partner_id",
    field_outcome: "outcome",
    field_score: "score",
    field_notes: "notes",
    field_stage: "to",
    field_visibility: "visibility",
    field_version: "version",
    field_status: "status",
    field_file: "file",
    field_comment: "comment",
    thing_attachment: "attachment",
};

pub static ZH: RefusalTexts = RefusalTexts {
    not_found: "找不到{what}",
    stale: "工单已被修改，当前版本为 {current}",
    unknown_stage: "流程「{process}」中没有阶段「{to}」",
    already_there: "工单已处于阶段「{stage}」",
    not_allowed: "不能从「{from}」转到「{to}」",
    review_required: "阶段「{stage}」需要通过质量评审，工单才能离开",
    vetoed: "插件「{plugin}」拒绝了此次推进：{reason}",
    guard_failed: "插件「{plugin}」无法作出判断，此次推进被拒绝：{reason}",
    plugin_failed: "插件「{plugin}」出错：{detail}",
    certification: "{person}（{id}）没有阶段「{stage}」要求的有效认证「{certification}」（当前：{state}）",
    reopen_window: "已超过可重新打开的期限",
    wrong_credentials: "电子邮箱或密码不正确",
    throttled: "登录失败次数过多，请在 {seconds} 秒后重试",
    forbidden: "您的角色无权执行此操作",
    unavailable: "暂时无法完成，请稍后再试",
    field: "{field}：{message}",
    separator: "；",
    form_version: "版本：表单缺少显示时的版本，请刷新页面",
    pick_visibility: "可见范围：请选择公开回复或内部备注",
    score_number: "评分：请输入 0 到 100 之间的整数",
    thing_ticket: "工单",
    thing_action: "该操作",
    thing_other: "该记录",
    field_body: "内容",
    field_note: "说明",
    field_reason: "原因",
    field_override_reason: "越权原因",
    field_assignee: "处理人",
    field_priority: "优先级",
    field_partner: "合作伙伴",
    field_outcome: "结果",
    field_score: "评分",
    field_notes: "备注",
    field_stage: "目标阶段",
    field_visibility: "可见范围",
    field_version: "版本",
    field_status: "状态",
    field_file: "文件",
    field_comment: "评论",
    thing_attachment: "附件",
};

/// The shapes of the domain's and the services' free-text messages, English (as they are
/// written there, `{}` for what varies) beside Chinese (`{0}`, `{1}` … for the same parts).
pub const MESSAGES: &[(&str, &str)] = &[
    ("must not be empty", "不能为空"),
    ("must not be empty when given", "填写时不能为空"),
    ("must be at most {} characters", "最多 {0} 个字符"),
    ("must be at least {} characters", "至少 {0} 个字符"),
    ("must be 1 to {} characters", "须为 1 到 {0} 个字符"),
    ("must be at most {} bytes as JSON", "JSON 形式最多 {0} 字节"),
    ("must be at most 2048 bytes", "最多 2048 字节"),
    ("must not contain control characters", "不能包含控制字符"),
    (
        "must not contain control characters or noncharacters (found U+{}); tab, line feed and carriage return are allowed",
        "不能包含控制字符或非字符（发现 U+{0}）；允许制表符、换行符和回车符",
    ),
    ("an override gives a reason (at most {} characters)", "越权须说明原因（最多 {0} 个字符）"),
    ("`{}` is not a valid id", "「{0}」不是有效的 ID"),
    ("`{}` is not one of: {}", "「{0}」不是以下取值之一：{1}"),
    ("`{}` is not a ticket number such as T-000123", "「{0}」不是工单编号（例如 T-000123）"),
    ("`{}` is neither a ticket id nor a ticket number such as T-000123", "「{0}」既不是工单 ID，也不是工单编号（例如 T-000123）"),
    ("`{}` is not a date such as 2026-12-25", "「{0}」不是日期（例如 2026-12-25）"),
    ("`{}` is not a duration such as 30s, 15m, 4h, 1h30m or 2d", "「{0}」不是时长（例如 30s、15m、4h、1h30m 或 2d）"),
    ("`{}` is not a whole number", "「{0}」不是整数"),
    ("must be a whole number from 1 to 5", "须为 1 到 5 之间的整数"),
    ("must be a whole number from 0 to 100", "须为 0 到 100 之间的整数"),
    ("must be 0 to 100", "须为 0 到 100"),
    ("must be from 0 to 100", "须为 0 到 100"),
    ("must be between 1 and 99", "须在 1 到 99 之间"),
    ("must be between 50 and 1000", "须在 50 到 1000 之间"),
    ("must be longer than zero", "必须大于零"),
    ("must be a number", "须为数字"),
    ("must not be in the future", "不能是将来的时间"),
    ("is out of range", "超出范围"),
    ("a comment from the customer is public", "客户的评论总是公开的"),
    ("a review with a failed checklist item cannot pass", "检查项有未通过时，评审不能判为通过"),
    ("must have 1 to {} characters", "须为 1 到 {0} 个字符"),
    ("at most {} tags", "最多 {0} 个标签"),
    ("must be a JSON object", "须为 JSON 对象"),
    ("must be a JSON object (a merge patch)", "须为 JSON 对象（合并补丁）"),
    ("the ticket is closed; its status cannot change", "工单已关闭，状态不能再更改"),
    ("tickets close by a transition to a terminal stage of their process", "工单须推进到流程的最终阶段才能关闭"),
    ("the ticket's process `{}` is no longer configured", "工单的流程「{0}」已不再配置"),
    ("only complaints (kind `complaint`) name an origin ticket", "只有投诉（类型 complaint）才能关联来源工单"),
    ("the ticket is {}; only open work can be delegated", "工单当前为 {0}；只有未结的工作才能委托"),
    ("the ticket is {}; only resolved or closed tickets reopen", "工单当前为 {0}；只有已解决或已关闭的工单才能重新打开"),
    ("the ticket is already delegated; take it back first (DELETE …/delegation)", "工单已委托，请先收回"),
    ("the ticket is not delegated", "工单没有委托"),
    ("partner `{}` is suspended", "合作伙伴「{0}」已暂停"),
    ("partner `{}` has no contract", "合作伙伴「{0}」没有合同"),
    ("the contract of partner `{}` starts at {}", "合作伙伴「{0}」的合同于 {1} 开始"),
    ("the contract of partner `{}` expired at {}", "合作伙伴「{0}」的合同已于 {1} 到期"),
    ("no staff member {}", "没有员工 {0}"),
    ("staff member {} is not active", "员工 {0} 已停用"),
    ("no partner {}", "没有合作伙伴 {0}"),
    ("no ticket `{}`", "没有工单「{0}」"),
    ("no course {}", "没有课程 {0}"),
    ("no training record {}", "没有培训记录 {0}"),
    ("no calendar `{}`", "没有日历「{0}」"),
    ("calendar `{}` exists", "日历「{0}」已存在"),
    ("policy `{}` exists", "策略「{0}」已存在"),
    ("calendar `{}` is used by policies {}", "日历「{0}」正被策略 {1} 使用"),
    ("a course with code {} exists", "代码为 {0} 的课程已存在"),
    ("a staff member with email {} exists", "电子邮箱为 {0} 的员工已存在"),
    ("a login with email `{}` exists", "电子邮箱为「{0}」的登录账号已存在"),
    ("staff member {} already has a login", "员工 {0} 已有登录账号"),
    ("training records refer to this course; it stays", "仍有培训记录引用此课程，不能删除"),
    ("tickets or tokens still refer to this staff member; set active to false instead", "仍有工单或令牌引用此员工，请改为停用"),
    ("delegations or tokens still refer to this partner; set status to suspended instead", "仍有委托或令牌引用此合作伙伴，请改为暂停"),
    ("that record was already corrected; supersede the correction instead", "该记录已被更正过，请更正那条更正记录"),
    ("the request refers to a record that does not exist, or a record still in use", "请求引用了不存在或仍在使用的记录"),
    ("the delivery is still pending: it is sent when its next attempt is due", "此投递仍在等待中，将在下次尝试时发送"),
    ("the survey was already answered", "此问卷已经回答过了"),
    ("a policy sets at least a first_response or a resolution target", "策略至少要设置首次响应或解决目标之一"),
    ("two escalations at the same percent", "两个升级设在了同一百分比"),
    ("resolved and closed stop clocks; they cannot pause them", "已解决和已关闭会停止计时，不能用于暂停"),
    ("is required: an IANA time zone such as Europe/Berlin", "必填：IANA 时区，例如 Europe/Berlin"),
    ("`{}` is not a known IANA time zone such as Europe/Berlin", "「{0}」不是已知的 IANA 时区（例如 Europe/Berlin）"),
    ("`{}` is reserved for the built-in 24×7 UTC calendar", "「{0}」保留给内置的 24×7 UTC 日历"),
    ("cannot be combined with hours: a 24×7 calendar has no weekly hours", "不能与工作时间同时设置：24×7 日历没有每周工作时间"),
    (
        "has no business hours on any weekday; give some, or set always = true for 24×7",
        "没有任何工作日的工作时间；请填写，或设为全天候（24×7）",
    ),
    ("must be 1 to 64 lower-case letters, digits, _ or -, starting with a letter", "须为 1 到 64 个小写字母、数字、_ 或 -，并以字母开头"),
    ("not a query string of the queues", "不是工单队列的查询串"),
    ("a title has 1 to {} characters", "标题须为 1 到 {0} 个字符"),
    ("an assessor has 1 to {} characters", "评估人须为 1 到 {0} 个字符"),
    ("a token name has 1 to {} characters", "令牌名称须为 1 到 {0} 个字符"),
    ("1 to 40 upper-case letters, digits and dashes, such as SOLUTION-DESIGN", "1 到 40 个大写字母、数字和连字符，例如 SOLUTION-DESIGN"),
    ("a partner token names its partner", "合作伙伴令牌须指明其合作伙伴"),
    ("a partner token acts for its partner, not for staff", "合作伙伴令牌代表合作伙伴，而不是员工"),
    ("only a token with role `partner` names a partner", "只有角色为 partner 的令牌才能指明合作伙伴"),
    ("name the staff member the login is for", "请选择此登录账号所属的员工"),
    ("a password is not the email address", "密码不能是电子邮箱"),
    ("a password is not only spaces", "密码不能全是空格"),
    ("a password has {} to {} characters", "密码须为 {0} 到 {1} 个字符"),
    ("a transition guard could not run: {}", "推进检查无法运行：{0}"),
    ("a file needs a name", "文件须有名称"),
    ("a file name must not contain `/` or `\\`", "文件名不能包含「/」或「\\」"),
    ("a file name must not contain control characters or noncharacters (found U+{})", "文件名不能包含控制字符或非字符（发现 U+{0}）"),
    ("a file name is at most {} characters", "文件名最多 {0} 个字符"),
    ("the file is empty", "文件为空"),
    ("a file is at most {} bytes; this one has {}", "单个文件最大 {0} 字节；此文件为 {1} 字节"),
    ("a file is at most {} bytes", "单个文件最大 {0} 字节"),
    (
        "the message has {} bytes; at most {} are accepted (mail.inbound.max_message_bytes)",
        "邮件有 {0} 字节，最多接受 {1} 字节（mail.inbound.max_message_bytes）",
    ),
    (
        "a ticket's attachments come to at most {} bytes; it has {} and these add {}",
        "一张工单的附件合计最多 {0} 字节；现有 {1} 字节，本次增加 {2} 字节",
    ),
    ("choose at least one file", "请至少选择一个文件"),
    ("send at least one file", "请至少发送一个文件"),
    ("ticket {} has no comment {}", "工单 {0} 没有评论 {1}"),
    (
        "this set-password link has expired or was already used; ask an admin for a new one",
        "此设置密码链接已过期或已被使用，请向管理员索取新链接",
    ),
];

/// `message` in `lang`: as written for English; for Chinese, by the first shape of `MESSAGES`
/// it has, else as written.
pub fn free_text(lang: Lang, message: &str) -> String {
    if lang == Lang::En {
        return message.to_owned();
    }
    MESSAGES.iter().find_map(|(en, zh)| captures(en, message).map(|parts| fill(zh, &parts))).unwrap_or_else(|| message.to_owned())
}

/// What `text` has where `shape` says `{}`, if `text` has that shape.
fn captures<'a>(shape: &str, text: &'a str) -> Option<Vec<&'a str>> {
    let pieces: Vec<&str> = shape.split("{}").collect();
    let mut rest = text.strip_prefix(pieces[0])?;
    let mut parts = Vec::new();
    for (i, piece) in pieces.iter().enumerate().skip(1) {
        let at = if i + 1 == pieces.len() {
            // The last piece ends the text.
            rest.strip_suffix(piece)?.len()
        } else {
            rest.find(piece).filter(|_| !piece.is_empty())?
        };
        if at == 0 {
            return None;
        }
        parts.push(&rest[..at]);
        rest = &rest[at + piece.len()..];
    }
    rest.is_empty().then_some(parts)
}

fn fill(template: &str, parts: &[&str]) -> String {
    parts.iter().enumerate().fold(template.to_owned(), |out, (i, part)| out.replace(&format!("{{{i}}}"), part))
}

impl RefusalTexts {
    /// A field as a person calls it (its path when we have no name for it).
    pub fn field_label<'a>(&self, field: &'a str) -> &'a str {
        match field {
            "body" => self.field_body,
            "note" => self.field_note,
            "reason" => self.field_reason,
            "override_reason" => self.field_override_reason,
            "assignee" | "assignee_id" => self.field_assignee,
            "priority" => self.field_priority,
            "partner_id" => self.field_partner,
            "outcome" => self.field_outcome,
            "score" => self.field_score,
            "notes" => self.field_notes,
            "to" => self.field_stage,
            "visibility" => self.field_visibility,
            "version" => self.field_version,
            "status" => self.field_status,
            "comment" => self.field_comment,
            f if f == "file" || (f.starts_with("file[") && f.ends_with(']')) => self.field_file,
            other => other,
        }
    }

    fn what_label(&self, what: &str) -> &'static str {
        match what {
            "ticket" => self.thing_ticket,
            "attachment" => self.thing_attachment,
            "action" => self.thing_action,
            _ => self.thing_other,
        }
    }
}

/// One field's message in `lang`, without the field (it is shown beside its input).
pub fn field_message(lang: Lang, e: &FieldError) -> String {
    free_text(lang, &e.message)
}

/// One field's message in `lang`, named by its field.
pub fn field_error(lang: Lang, e: &FieldError) -> String {
    let r = texts(lang);
    r.field.replace("{field}", r.field_label(&e.field)).replace("{message}", &field_message(lang, e))
}

/// Why `e` refused the action, in `lang`; stage keys are named as `process` names them.
pub fn message(lang: Lang, e: &ServiceError, process: Option<&Process>) -> String {
    let r = texts(lang);
    let stage = |key: &str| process.and_then(|p| p.stage(key)).map_or_else(|| key.to_owned(), |s| s.name.clone());
    match e {
        ServiceError::Invalid(v) => v.errors.iter().map(|f| field_error(lang, f)).collect::<Vec<_>>().join(r.separator),
        ServiceError::NotFound { what } => r.not_found.replace("{what}", r.what_label(what)),
        ServiceError::Missing { field, message } => {
            r.field.replace("{field}", r.field_label(field)).replace("{message}", &free_text(lang, message))
        }
        ServiceError::StaleVersion { current } => r.stale.replace("{current}", &current.to_string()),
        ServiceError::Transition(t) => match t {
            TransitionError::UnknownStage { process: p, to, .. } => {
                r.unknown_stage.replace("{to}", to).replace("{process}", process.map_or(p.as_str(), |p| p.name.as_str()))
            }
            TransitionError::AlreadyThere { stage: s, .. } => r.already_there.replace("{stage}", &stage(s)),
            TransitionError::NotAllowed { from, to, .. } => r.not_allowed.replace("{from}", &stage(from)).replace("{to}", &stage(to)),
            TransitionError::ReviewRequired { stage: s } => r.review_required.replace("{stage}", &stage(s)),
        },
        ServiceError::Gone(message) | ServiceError::Plugin(message) => free_text(lang, message),
        ServiceError::Conflict { message, .. } => free_text(lang, message),
        ServiceError::AlreadyDone(message) => free_text(lang, message),
        ServiceError::Unavailable(_) | ServiceError::Duplicate { .. } | ServiceError::Internal { .. } => r.unavailable.to_owned(),
        ServiceError::Vetoed { plugin, reason, plugin_failed } => {
            let template = if *plugin_failed { r.guard_failed } else { r.vetoed };
            template.replace("{plugin}", plugin).replace("{reason}", reason)
        }
        ServiceError::PluginFailed { plugin, detail } => r.plugin_failed.replace("{plugin}", plugin).replace("{detail}", detail),
        ServiceError::CertificationRequired(c) => r
            .certification
            .replace("{person}", &c.staff_name)
            .replace("{id}", &c.staff_id.to_string())
            .replace("{certification}", &c.certification)
            .replace("{state}", crate::staff::texts::texts(lang).state(c.state))
            .replace("{stage}", &stage(&c.stage)),
        ServiceError::Forbidden(_) => r.forbidden.to_owned(),
        ServiceError::SignIn(SignInError::WrongCredentials) => r.wrong_credentials.to_owned(),
        ServiceError::SignIn(SignInError::Throttled { retry_after_secs }) => {
            r.throttled.replace("{seconds}", &retry_after_secs.to_string())
        }
        ServiceError::TooLarge { field, message, .. } => field_error(lang, &FieldError::new(field.as_str(), message.as_str())),
        ServiceError::ReopenWindowPassed => r.reopen_window.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_translated_by_its_shape() {
        assert_eq!(free_text(Lang::Zh, "must be at most 4096 characters"), "最多 4096 个字符");
        assert_eq!(free_text(Lang::Zh, "`p9` is not one of: urgent, high"), "「p9」不是以下取值之一：urgent, high");
        assert_eq!(free_text(Lang::Zh, "must not be empty"), "不能为空");
        assert_eq!(free_text(Lang::En, "must not be empty"), "must not be empty");
        // A text with no known shape stays as written.
        assert_eq!(free_text(Lang::Zh, "the guest trapped"), "the guest trapped");
    }

    #[test]
    fn every_shape_reads_itself_and_is_chinese() {
        for (en, zh) in MESSAGES {
            let sample = en.replace("{}", "x1");
            let parts = captures(en, &sample).unwrap_or_else(|| panic!("{en} matches its own shape"));
            assert_eq!(parts.len(), en.matches("{}").count(), "{en}");
            assert!((0..parts.len()).all(|i| zh.contains(&format!("{{{i}}}"))), "{zh} uses every part of {en}");
            assert_ne!(en, zh);
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh} is Chinese");
        }
    }

    #[test]
    fn the_domains_own_messages_have_their_chinese() {
        use steward_domain::text;
        let long = "x".repeat(5000);
        for e in [
            text::optional_note("note", Some(long.clone())).unwrap_err(),
            text::required_reason("override_reason", &long).unwrap_err(),
            text::check_characters("note", "a\u{7}b").unwrap_err(),
            steward_domain::ticket::Priority::parse("priority", "p9").unwrap_err(),
            steward_domain::ids::StaffId::parse("assignee", "nobody").unwrap_err(),
        ] {
            let zh = field_message(Lang::Zh, &e);
            assert_ne!(zh, e.message, "{} has its Chinese", e.message);
        }
    }

    #[test]
    fn every_zh_text_is_there_and_differs_from_english() {
        let pairs = |t: &RefusalTexts| {
            [
                t.not_found,
                t.stale,
                t.unknown_stage,
                t.already_there,
                t.not_allowed,
                t.review_required,
                t.vetoed,
                t.guard_failed,
                t.plugin_failed,
                t.certification,
                t.reopen_window,
                t.wrong_credentials,
                t.throttled,
                t.forbidden,
                t.unavailable,
                t.field,
                t.separator,
                t.form_version,
                t.pick_visibility,
                t.score_number,
                t.thing_ticket,
                t.thing_action,
                t.thing_other,
                t.field_body,
                t.field_note,
                t.field_reason,
                t.field_override_reason,
                t.field_assignee,
                t.field_priority,
                t.field_partner,
                t.field_outcome,
                t.field_score,
                t.field_notes,
                t.field_stage,
                t.field_visibility,
                t.field_version,
                t.field_status,
                t.field_file,
                t.field_comment,
                t.thing_attachment,
            ]
        };
        for (en, zh) in pairs(&EN).iter().zip(pairs(&ZH)) {
            assert!(!zh.is_empty() && *en != zh, "{en} has its own Chinese text");
        }
    }
}
