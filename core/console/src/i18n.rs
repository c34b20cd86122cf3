//! Every text the console shows, in English and Simplified Chinese, in this one place. The
//! language comes from the user's setting when signed in, else from `Accept-Language`; times are
//! shown in the user's timezone (UTC until one is set).

use axum::http::{header, HeaderMap};
use steward_domain::time::Timestamp;

pub use crate::screen_texts::ScreenTexts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    /// The first language of `Accept-Language` that we have, by the client's q-values.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let Some(value) = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()) else {
            return Lang::En;
        };
        let mut ranked: Vec<(f32, Lang)> = value
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let q = parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())).unwrap_or(1.0);
                let lang = match tag.split('-').next()? {
                    "zh" => Lang::Zh,
                    "en" => Lang::En,
                    _ => return None,
                };
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        // Stable: among equal q-values the client's order wins.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map_or(Lang::En, |&(_, lang)| lang)
    }

    /// The BCP 47 tag for `<html lang>`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-Hans",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }
}

/// How one person sees the console: language and timezone.
#[derive(Debug, Clone)]
pub struct Locale {
    pub lang: Lang,
    pub tz: jiff::tz::TimeZone,
}

impl Locale {
    pub fn from_headers(headers: &HeaderMap) -> Locale {
        Locale { lang: Lang::from_headers(headers), tz: jiff::tz::TimeZone::UTC }
    }

    /// A date and time in this person's timezone, e.g. `2026-12-02 14:05 UTC`.
    pub fn time(&self, at: Timestamp) -> String {
        match jiff::Timestamp::from_millisecond(at.as_millis()) {
            Ok(t) => t.to_zoned(self.tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string(),
            Err(_) => at.to_string(),
        }
    }
}

/// The texts of one language. A missing translation is a compile error.
pub struct Texts {
    pub product: &'static str,
    pub skip_to_content: &'static str,
    pub home_title: &'static str,
    pub home_lead: &'static str,
    pub survey_title: &'static str,
    pub survey_about: &'static str,
    pub survey_question: &'static str,
    pub survey_scores: [&'static str; 5],
    pub survey_comment: &'static str,
    pub survey_comment_hint: &'static str,
    pub survey_send: &'static str,
    pub survey_expires: &'static str,
    pub survey_pick_a_score: &'static str,
    pub survey_thanks_title: &'static str,
    pub survey_thanks: &'static str,
    pub survey_answered_title: &'static str,
    pub survey_answered: &'static str,
    pub survey_expired_title: &'static str,
    pub survey_expired: &'static str,
    pub survey_unknown_title: &'static str,
    pub survey_unknown: &'static str,
    pub problem_title: &'static str,
    pub problem_unavailable: &'static str,
    pub nav_label: &'static str,
    pub nav_home: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out: &'static str,
    pub sign_in_title: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub sign_in_button: &'static str,
    pub sign_in_help: &'static str,
    pub wrong_credentials: &'static str,
    pub throttled: &'static str,
    pub signed_out: &'static str,
    pub password_set_done: &'static str,
    pub set_password_title: &'static str,
    pub set_password_for: &'static str,
    pub new_password: &'static str,
    pub confirm_password: &'static str,
    pub set_password_button: &'static str,
    pub password_rules: &'static str,
    pub passwords_differ: &'static str,
    pub link_gone: &'static str,
    pub problem_not_found_title: &'static str,
    pub problem_not_found: &'static str,
    pub problem_forbidden_title: &'static str,
    pub problem_forbidden: &'static str,
    /// The supervision, partner, staff, training and administration screens' texts.
    pub screens: &'static ScreenTexts,
}

pub static EN: Texts = Texts {
    product: "Steward",
    skip_to_content: "Skip to content",
    home_title: "Steward console",
    home_lead: "The service desk in your browser.",
    survey_title: "How did we do?",
    survey_about: "About your request",
    survey_question: "How satisfied are you with how we handled it?",
    survey_scores: ["1 – Very dissatisfied", "2 – Dissatisfied", "3 – Neither", "4 – Satisfied", "5 – Very satisfied"],
    survey_comment: "Anything you would like to tell us? (optional)",
    survey_comment_hint: "At most 4096 characters.",
    survey_send: "Send my answer",
    survey_expires: "This survey is open until",
    survey_pick_a_score: "Please choose a score from 1 to 5.",
    survey_thanks_title: "Thank you",
    survey_thanks: "Your answer has been recorded. Thank you for helping us improve.",
    survey_answered_title: "Already answered",
    survey_answered: "This survey has already been answered. Each survey takes one answer.",
    survey_expired_title: "This survey has closed",
    survey_expired: "The time to answer this survey has passed.",
    survey_unknown_title: "Survey not found",
    survey_unknown: "This link does not lead to a survey. Please check that you copied all of it.",
    problem_title: "Something went wrong",
    problem_unavailable: "We could not complete this just now. Please try again in a moment.",
    nav_label: "Main menu",
    nav_home: "Home",
    signed_in_as: "Signed in as",
    sign_out: "Sign out",
    sign_in_title: "Sign in",
    email: "Email",
    password: "Password",
    sign_in_button: "Sign in",
    sign_in_help: "No password yet, or forgot it? Ask an administrator for a set-password link.",
    wrong_credentials: "The email or password is wrong.",
    throttled: "Too many failed sign-ins. Try again in {seconds} seconds.",
    signed_out: "You have signed out.",
    password_set_done: "Your password is set. Sign in with it now.",
    set_password_title: "Set your password",
    set_password_for: "Setting the password for",
    new_password: "New password",
    confirm_password: "New password again",
    set_password_button: "Set password",
    password_rules: "At least {min} characters, not only spaces, and not your email address.",
    passwords_differ: "The two passwords differ. Type the same password twice.",
    link_gone: "This link has been used or has expired. Ask an administrator for a new one.",
    problem_not_found_title: "Not found",
    problem_not_found: "There is nothing here, or it has been removed.",
    problem_forbidden_title: "Not allowed",
    problem_forbidden: "Your role does not allow this. Ask a supervisor or an administrator.",
    screens: &crate::screen_texts::EN,
};

pub static ZH: Texts = Texts {
    product: "Steward",
    skip_to_content: "跳到正文",
    home_title: "Steward 控制台",
    home_lead: "浏览器里的服务台。",
    survey_title: "您对我们的服务满意吗？",
    survey_about: "关于您的请求",
    survey_question: "您对我们的处理有多满意？",
    survey_scores: ["1 – 非常不满意", "2 – 不满意", "3 – 一般", "4 – 满意", "5 – 非常满意"],
    survey_comment: "还有什么想告诉我们的吗？（可选）",
    survey_comment_hint: "最多 4096 个字符。",
    survey_send: "提交我的回答",
    survey_expires: "本问卷开放至",
    survey_pick_a_score: "请选择 1 到 5 之间的评分。",
    survey_thanks_title: "谢谢您",
    survey_thanks: "您的回答已记录。感谢您帮助我们改进。",
    survey_answered_title: "已经回答过了",
    survey_answered: "本问卷已经回答过了，每份问卷只能回答一次。",
    survey_expired_title: "本问卷已关闭",
    survey_expired: "回答本问卷的时间已过。",
    survey_unknown_title: "找不到问卷",
    survey_unknown: "此链接没有对应的问卷，请检查链接是否完整。",
    problem_title: "出错了",
    problem_unavailable: "暂时无法完成，请稍后再试。",
    nav_label: "主菜单",
    nav_home: "首页",
    signed_in_as: "当前用户",
    sign_out: "退出登录",
    sign_in_title: "登录",
    email: "电子邮箱",
    password: "密码",
    sign_in_button: "登录",
    sign_in_help: "还没有密码或忘记了密码？请向管理员索取设置密码的链接。",
    wrong_credentials: "电子邮箱或密码不正确。",
    throttled: "登录失败次数过多，请在 {seconds} 秒后重试。",
    signed_out: "您已退出登录。",
    password_set_done: "密码已设置，请用新密码登录。",
    set_password_title: "设置密码",
    set_password_for: "正在为以下账号设置密码：",
    new_password: "新密码",
    confirm_password: "再次输入新密码",
    set_password_button: "设置密码",
    password_rules: "至少 {min} 个字符，不能全是空格，也不能是您的电子邮箱。",
    passwords_differ: "两次输入的密码不一致，请输入相同的密码。",
    link_gone: "此链接已被使用或已过期，请向管理员索取新链接。",
    problem_not_found_title: "未找到",
    problem_not_found: "这里没有内容，或已被删除。",
    problem_forbidden_title: "无权访问",
    problem_forbidden: "您的角色无权执行此操作，请联系主管或管理员。",
    screens: &crate::screen_texts::ZH,
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(accept: &'static str) -> Lang {
        Lang::from_headers(&HeaderMap::from_iter([(header::ACCEPT_LANGUAGE, HeaderValue::from_static(accept))]))
    }

    #[test]
    fn accept_language_picks_the_best_language_we_have() {
        assert_eq!(lang("zh-CN,zh;q=0.9,en;q=0.8"), Lang::Zh);
        assert_eq!(lang("fr-FR, en;q=0.5, zh;q=0.4"), Lang::En);
        assert_eq!(lang("en;q=0.3, zh-Hans;q=0.7"), Lang::Zh);
        assert_eq!(lang("zh;q=0, de"), Lang::En);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::En);
    }

    #[test]
    fn times_are_shown_in_the_persons_timezone() {
        let at = Timestamp::parse("at", "2026-12-02T14:05:00Z").unwrap();
        let utc = Locale { lang: Lang::En, tz: jiff::tz::TimeZone::UTC };
        assert_eq!(utc.time(at), "2026-12-02 14:05 UTC");
        let shanghai = Locale { lang: Lang::Zh, tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap() };
        assert_eq!(shanghai.time(at), "2026-12-02 22:05 CST");
    }
}
