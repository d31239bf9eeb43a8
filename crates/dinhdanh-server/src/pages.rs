//! The HTML pages a person sees: logging in to a service (login, authenticator code, passkey,
//! enrolment, consent, errors) and their own page (`/me`), in Vietnamese (the default) or
//! English.
//!
//! This module owns the wording and the markup; the routes own everything else. It does no I/O
//! and decides nothing: it never reads the request or the store, and it never puts personal data
//! on a page except what its caller passes: the authenticator secret on [`enrolled`], a child's
//! name to their guardian on [`consent`] and [`portal`], and the person's own account handles.
//! The only script is the server's own `/assets/passkey.js`, on the passkey pages, and no page
//! loads an external asset (`default-src 'none'; script-src 'self'; style-src 'unsafe-inline'`).
//! Askama escapes every value it prints.

use askama::Template;
use dinhdanh_core::{BindingStatus, GuardianConsent};
use dinhdanh_store::{Binding, Subscription};
use dinhdanh_telecom::LineStatus;

/// The page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    /// Vietnamese, the default.
    Vi,
    /// English.
    En,
}

impl Lang {
    /// `?lang=` wins ("vi" | "en", anything else ignored), then the first of vi/en in
    /// Accept-Language by q-value order, else Vi.
    pub(crate) fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        query
            .and_then(Lang::from_code)
            .or_else(|| accept_language.and_then(Lang::from_accept_language))
            .unwrap_or(Lang::Vi)
    }

    /// The BCP 47 code: "vi" or "en".
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language, offered by every page's language switch.
    fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    fn from_code(code: &str) -> Option<Lang> {
        match code {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The preferred of vi and en in an Accept-Language header (RFC 9110 §12.5.4): the highest
    /// q-value wins, the earlier entry on a tie; q=0 means "not acceptable"; an entry with a
    /// malformed q-value is skipped.
    fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            // RFC 4647 §3.3.1 basic filtering: "en" matches "en" and "en-US".
            let primary = tag.split('-').next().unwrap_or_default();
            let Some(lang) = Lang::from_code(&primary.to_ascii_lowercase()) else {
                continue;
            };
            let mut quality = Some(1000);
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    quality = parse_qvalue(value.trim());
                }
            }
            let Some(quality) = quality.filter(|&q| q > 0) else {
                continue;
            };
            if best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }
}

/// A q-value in thousandths (RFC 9110 §12.4.2: `0[.ddd]` or `1[.000]`), without floating point.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// What went wrong on a form, shown in the page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormError {
    /// The citizen number or the password is wrong; one message for both, so that the page
    /// does not tell whether a citizen number has an account.
    BadCredentials,
    /// Too many failed attempts: try again later.
    Locked,
    /// Too many attempts from this address.
    RateLimited,
    /// The authenticator code is wrong or was already used.
    BadCode,
    /// Enrolment refused: the details do not match the population registry, or the person
    /// cannot enrol (an account exists, or under 14). One message for all, so that the form
    /// confirms nothing about a person.
    NoMatch,
    /// The password is shorter than 12 characters or longer than 128.
    WeakPassword,
    /// The password and its repetition differ.
    PasswordsDiffer,
    /// The current password, asked before a change, is wrong.
    WrongPassword,
    /// A field is malformed (citizen number not 12 digits, date not YYYY-MM-DD, …).
    Invalid,
    /// The passkey's answer did not verify, or the ceremony expired: try again.
    PasskeyRefused,
}

impl FormError {
    fn message(self, lang: Lang) -> &'static str {
        use FormError::*;
        match (lang, self) {
            (Lang::Vi, BadCredentials) => {
                "Số định danh cá nhân hoặc mật khẩu không đúng. Sau nhiều lần nhập sai, tài khoản tạm thời bị khóa."
            }
            (Lang::En, BadCredentials) => {
                "The personal identification number or the password is wrong. After several failed attempts the account is locked for a while."
            }
            (Lang::Vi, Locked) => {
                "Tài khoản tạm thời bị khóa vì nhập sai quá nhiều lần. Vui lòng thử lại sau."
            }
            (Lang::En, Locked) => {
                "Too many failed attempts: the account is locked for a while. Please try again later."
            }
            (Lang::Vi, RateLimited) => {
                "Có quá nhiều lần thử từ địa chỉ mạng của bạn. Vui lòng đợi một lúc rồi thử lại."
            }
            (Lang::En, RateLimited) => {
                "Too many attempts from your network address. Please wait a while and try again."
            }
            (Lang::Vi, BadCode) => {
                "Mã xác thực không đúng hoặc đã được dùng. Hãy nhập mã mới mà ứng dụng đang hiển thị."
            }
            (Lang::En, BadCode) => {
                "The code is wrong or has already been used. Enter the new code your app shows."
            }
            (Lang::Vi, NoMatch) => {
                "Không thể tạo tài khoản: thông tin không khớp với Cơ sở dữ liệu quốc gia về dân cư, người này đã có tài khoản (hãy đăng nhập), hoặc là trẻ em dưới 14 tuổi (cha, mẹ hoặc người giám hộ thực hiện thay)."
            }
            (Lang::En, NoMatch) => {
                "The account cannot be created: the details do not match the national population registry, the person already has an account (log in instead), or is a child under 14 (a parent or guardian acts for them)."
            }
            (Lang::Vi, WeakPassword) => "Mật khẩu phải có từ 12 đến 128 ký tự.",
            (Lang::En, WeakPassword) => "The password must be 12 to 128 characters long.",
            (Lang::Vi, PasswordsDiffer) => "Hai mật khẩu bạn nhập không giống nhau.",
            (Lang::En, PasswordsDiffer) => "The two passwords you entered differ.",
            (Lang::Vi, WrongPassword) => {
                "Mật khẩu hiện tại không đúng. Sau nhiều lần nhập sai, tài khoản tạm thời bị khóa."
            }
            (Lang::En, WrongPassword) => {
                "The current password is wrong. After several failed attempts the account is locked for a while."
            }
            (Lang::Vi, Invalid) => {
                "Có mục chưa đúng định dạng; hãy xem hướng dẫn dưới tên mỗi mục."
            }
            (Lang::En, Invalid) => {
                "A field is not in the expected format; see the hint under the name of each field."
            }
            (Lang::Vi, PasskeyRefused) => {
                "Khóa truy cập không được chấp nhận hoặc đã quá thời gian. Hãy thử lại."
            }
            (Lang::En, PasskeyRefused) => {
                "The passkey was not accepted, or took too long. Please try again."
            }
        }
    }
}

/// What an error page says, in the page's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorMessage {
    /// The client id names no registered service.
    UnknownClient,
    /// The redirect URI is not one the service registered.
    BadRedirectUri,
    /// The request is missing a parameter or malformed.
    BadRequest,
    /// The login request expired or was used; go back to the service and try again.
    Expired,
    /// The service needs e-ID level 2 (verified in person).
    LevelTooLow,
    /// The form's CSRF token did not match: the form expired; reload.
    CsrfFailed,
    /// A fault on our side.
    Internal,
}

impl ErrorMessage {
    /// The heading and the explanation.
    fn text(self, lang: Lang) -> (&'static str, &'static str) {
        use ErrorMessage::*;
        match (lang, self) {
            (Lang::Vi, UnknownClient) => (
                "Dịch vụ không xác định",
                "Dịch vụ đã chuyển bạn đến đây chưa được đăng ký với hệ thống định danh. Hãy quay lại dịch vụ đó.",
            ),
            (Lang::En, UnknownClient) => (
                "Unknown service",
                "The service that sent you here is not registered with the identity platform. Please go back to it.",
            ),
            (Lang::Vi, BadRedirectUri) => (
                "Địa chỉ quay lại không hợp lệ",
                "Dịch vụ yêu cầu đưa bạn về một địa chỉ mà nó chưa đăng ký, vì vậy chúng tôi không chuyển bạn đến đó. Hãy quay lại dịch vụ và thử lại.",
            ),
            (Lang::En, BadRedirectUri) => (
                "Invalid return address",
                "The service asked us to send you back to an address it has not registered, so we will not send you there. Please go back to the service and try again.",
            ),
            (Lang::Vi, BadRequest) => (
                "Yêu cầu không hợp lệ",
                "Yêu cầu đăng nhập thiếu thông tin hoặc sai định dạng. Hãy quay lại dịch vụ và thử lại.",
            ),
            (Lang::En, BadRequest) => (
                "Invalid request",
                "The login request is incomplete or malformed. Please go back to the service and try again.",
            ),
            (Lang::Vi, Expired) => (
                "Yêu cầu đăng nhập đã hết hạn",
                "Yêu cầu đăng nhập đã hết hạn hoặc đã được sử dụng. Hãy quay lại dịch vụ và thử lại.",
            ),
            (Lang::En, Expired) => (
                "The login request has expired",
                "The login request has expired or has already been used. Please go back to the service and try again.",
            ),
            (Lang::Vi, LevelTooLow) => (
                "Cần tài khoản định danh điện tử mức độ 2",
                "Dịch vụ này yêu cầu tài khoản định danh điện tử mức độ 2, tức là đã được xác minh trực tiếp.",
            ),
            (Lang::En, LevelTooLow) => (
                "An e-ID level 2 account is needed",
                "This service needs an e-ID level 2 account, one that has been verified in person.",
            ),
            (Lang::Vi, CsrfFailed) => (
                "Biểu mẫu đã hết hạn",
                "Vì an toàn, mỗi biểu mẫu chỉ dùng được trong một thời gian ngắn. Hãy tải lại trang và thử lại.",
            ),
            (Lang::En, CsrfFailed) => (
                "The form has expired",
                "For your safety, a form can only be used for a short time. Please reload the page and try again.",
            ),
            (Lang::Vi, Internal) => (
                "Đã xảy ra lỗi",
                "Hệ thống đang gặp sự cố. Vui lòng thử lại sau ít phút.",
            ),
            (Lang::En, Internal) => (
                "Something went wrong",
                "The platform has a problem. Please try again in a few minutes.",
            ),
        }
    }
}

/// Shared by every form page: where the form posts and its hidden fields.
pub(crate) struct Form<'a> {
    /// The page language, also posted back as the hidden `lang` field.
    pub(crate) lang: Lang,
    /// The login transaction, posted back as the hidden `tx` field.
    pub(crate) tx: &'a str,
    /// The CSRF token, posted back as the hidden `csrf` field.
    pub(crate) csrf: &'a str,
}

/// Who is asking, shown at the top of login/enrol/consent pages: "<client> of <organisation>
/// asks you to log in".
pub(crate) struct Requester<'a> {
    /// The service's registered name.
    pub(crate) client_name: &'a str,
    /// The registered name of the organisation that runs it.
    pub(crate) organisation_name: &'a str,
}

/// One line of the consent page: a claim the service asks for.
pub(crate) struct ClaimLine {
    /// The claim's name, e.g. `age_over_18`.
    pub(crate) claim: &'static str,
    /// Whether the person must tick a box to share it.
    pub(crate) explicit: bool,
}

impl ClaimLine {
    /// What the claim tells the service, in words; an unknown claim by its raw name.
    fn description(&self, lang: Lang) -> &'static str {
        match (lang, self.claim) {
            (Lang::Vi, "verified") => "bạn là người thật, đang sống và đã được xác minh",
            (Lang::En, "verified") => "that you are a real, living, verified person",
            (Lang::Vi, "age_over_13") => {
                "bạn đã đủ 13 tuổi hay chưa (chỉ có hoặc không, không phải ngày sinh của bạn)"
            }
            (Lang::En, "age_over_13") => "whether you are over 13 (yes or no, not your birth date)",
            (Lang::Vi, "age_over_16") => {
                "bạn đã đủ 16 tuổi hay chưa (chỉ có hoặc không, không phải ngày sinh của bạn)"
            }
            (Lang::En, "age_over_16") => "whether you are over 16 (yes or no, not your birth date)",
            (Lang::Vi, "age_over_18") => {
                "bạn đã đủ 18 tuổi hay chưa (chỉ có hoặc không, không phải ngày sinh của bạn)"
            }
            (Lang::En, "age_over_18") => "whether you are over 18 (yes or no, not your birth date)",
            (Lang::Vi, "name") => "họ và tên của bạn",
            (Lang::En, "name") => "your full name",
            (Lang::Vi, "phone_number") => "số điện thoại di động đã được xác minh của bạn",
            (Lang::En, "phone_number") => "your verified mobile number",
            (Lang::Vi, "phone_number_verified") => {
                "việc số điện thoại di động của bạn đã được xác minh"
            }
            (Lang::En, "phone_number_verified") => "that your mobile number is verified",
            (Lang::Vi, "birthdate") => "ngày sinh của bạn",
            (Lang::En, "birthdate") => "your date of birth",
            (_, other) => other,
        }
    }
}

/// A checkbox by which the person explicitly agrees to share what a scope covers.
struct ExplicitScope {
    scope: &'static str,
    id: String,
    label: String,
}

impl ExplicitScope {
    fn new(scope: &'static str, lang: Lang) -> Self {
        let label = match (lang, scope) {
            (Lang::Vi, "birthdate") => {
                "Tôi đồng ý rõ ràng việc chia sẻ ngày sinh của tôi.".to_owned()
            }
            (Lang::En, "birthdate") => "I explicitly agree to share my date of birth.".to_owned(),
            (Lang::Vi, other) => format!("Tôi đồng ý rõ ràng việc chia sẻ: {other}"),
            (Lang::En, other) => format!("I explicitly agree to share: {other}"),
        };
        Self {
            scope,
            id: format!("explicit-{scope}"),
            label,
        }
    }
}

/// What `base.html` needs: the language, the title and the language switch.
struct Layout<'a> {
    lang: &'static str,
    title: String,
    /// The login transaction the language switch keeps; empty on error pages.
    tx: &'a str,
    other: &'static str,
    nav_label: &'static str,
    switch_label: &'static str,
    /// Whether the page offers the language switch: not on error pages, whose address is
    /// not theirs to repeat, nor after enrolment, whose secret is shown once.
    switch: bool,
}

impl<'a> Layout<'a> {
    fn new(lang: Lang, title: &str, tx: &'a str, error: bool) -> Self {
        let (nav_label, error_prefix) = match lang {
            Lang::Vi => ("Ngôn ngữ", "Lỗi"),
            Lang::En => ("Language", "Error"),
        };
        // The other language's own name, as language switches conventionally show it.
        let switch_label = match lang.other() {
            Lang::Vi => "Tiếng Việt",
            Lang::En => "English",
        };
        // A screen reader reads the title first: an error there is heard at once.
        let title = if error {
            format!("{error_prefix}: {title}")
        } else {
            title.to_owned()
        };
        Self {
            lang: lang.code(),
            title,
            tx,
            other: lang.other().code(),
            nav_label,
            switch_label,
            switch: !tx.is_empty(),
        }
    }
}

/// The words of the login page.
struct LoginText {
    title: &'static str,
    heading: &'static str,
    of: &'static str,
    asks: &'static str,
    citizen_number: &'static str,
    citizen_number_hint: &'static str,
    password: &'static str,
    submit: &'static str,
    no_account: &'static str,
    enrol_link: &'static str,
}

impl LoginText {
    const VI: Self = Self {
        title: "Đăng nhập",
        heading: "Đăng nhập bằng tài khoản định danh điện tử",
        of: "của",
        asks: "yêu cầu bạn đăng nhập.",
        citizen_number: "Số định danh cá nhân",
        citizen_number_hint: "Gồm 12 chữ số, in trên thẻ căn cước của bạn.",
        password: "Mật khẩu",
        submit: "Đăng nhập",
        no_account: "Chưa có tài khoản?",
        enrol_link: "Tạo tài khoản",
    };
    const EN: Self = Self {
        title: "Log in",
        heading: "Log in with your electronic identity",
        of: "of",
        asks: "asks you to log in.",
        citizen_number: "Personal identification number",
        citizen_number_hint: "12 digits, printed on your identity card.",
        password: "Password",
        submit: "Log in",
        no_account: "No account yet?",
        enrol_link: "Create an account",
    };
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: Layout<'a>,
    t: &'static LoginText,
    csrf: &'a str,
    requester: &'a Requester<'a>,
    error: Option<&'static str>,
}

/// The login page: citizen number and password, posted to `/login`.
pub(crate) fn login(
    form: &Form<'_>,
    requester: &Requester<'_>,
    error: Option<FormError>,
) -> String {
    let t = match form.lang {
        Lang::Vi => &LoginText::VI,
        Lang::En => &LoginText::EN,
    };
    render(&LoginPage {
        page: Layout::new(form.lang, t.title, form.tx, error.is_some()),
        t,
        csrf: form.csrf,
        requester,
        error: error.map(|e| e.message(form.lang)),
    })
}

/// The words of the authenticator code page.
struct TotpText {
    title: &'static str,
    heading: &'static str,
    lead: &'static str,
    code: &'static str,
    code_hint: &'static str,
    submit: &'static str,
}

impl TotpText {
    const VI: Self = Self {
        title: "Mã xác thực",
        heading: "Nhập mã xác thực",
        lead: "Mở ứng dụng xác thực trên điện thoại của bạn và nhập mã đang hiển thị.",
        code: "Mã xác thực",
        code_hint: "Gồm 6 chữ số.",
        submit: "Xác nhận",
    };
    const EN: Self = Self {
        title: "Authentication code",
        heading: "Enter your authentication code",
        lead: "Open the authenticator app on your phone and enter the code it shows.",
        code: "Authentication code",
        code_hint: "6 digits.",
        submit: "Confirm",
    };
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage<'a> {
    page: Layout<'a>,
    t: &'static TotpText,
    csrf: &'a str,
    error: Option<&'static str>,
}

/// The second step of login: the 6-digit authenticator code, posted to `/login/totp`.
pub(crate) fn totp(form: &Form<'_>, error: Option<FormError>) -> String {
    let t = match form.lang {
        Lang::Vi => &TotpText::VI,
        Lang::En => &TotpText::EN,
    };
    render(&TotpPage {
        page: Layout::new(form.lang, t.title, form.tx, error.is_some()),
        t,
        csrf: form.csrf,
        error: error.map(|e| e.message(form.lang)),
    })
}

/// The words of the enrolment page.
struct EnrolText {
    title: &'static str,
    heading: &'static str,
    of: &'static str,
    asks: &'static str,
    // The levels of electronic identification accounts: Nghị định 69/2024/NĐ-CP.
    level: &'static str,
    registry: &'static str,
    children: &'static str,
    citizen_number: &'static str,
    citizen_number_hint: &'static str,
    name: &'static str,
    name_hint: &'static str,
    birth_date: &'static str,
    birth_date_hint: &'static str,
    password: &'static str,
    password_hint: &'static str,
    password_again: &'static str,
    second_factor: &'static str,
    factor_totp: &'static str,
    factor_passkey: &'static str,
    submit: &'static str,
    have_account: &'static str,
    login_link: &'static str,
}

impl EnrolText {
    const VI: Self = Self {
        title: "Tạo tài khoản",
        heading: "Tạo tài khoản định danh điện tử",
        of: "của",
        asks: "yêu cầu bạn đăng nhập. Nếu chưa có tài khoản, bạn có thể tạo ngay tại đây.",
        level: "Đây là tài khoản định danh điện tử mức độ 1.",
        registry: "Thông tin bạn nhập sẽ được đối chiếu với Cơ sở dữ liệu quốc gia về dân cư.",
        children: "Trẻ em dưới 14 tuổi không thể tự tạo tài khoản; cha, mẹ hoặc người giám hộ thực hiện thay.",
        citizen_number: "Số định danh cá nhân",
        citizen_number_hint: "Gồm 12 chữ số, in trên thẻ căn cước của bạn.",
        name: "Họ và tên",
        name_hint: "Viết đầy đủ, có dấu, như trên thẻ căn cước.",
        birth_date: "Ngày sinh",
        birth_date_hint: "Theo dạng năm-tháng-ngày, ví dụ 1990-01-31.",
        password: "Mật khẩu",
        password_hint: "Từ 12 đến 128 ký tự.",
        password_again: "Nhập lại mật khẩu",
        second_factor: "Cách xác thực bước thứ hai khi đăng nhập",
        factor_totp: "Mã 6 chữ số từ ứng dụng xác thực trên điện thoại",
        factor_passkey: "Khóa truy cập (passkey) trên thiết bị này hoặc khóa bảo mật",
        submit: "Tạo tài khoản",
        have_account: "Đã có tài khoản?",
        login_link: "Đăng nhập",
    };
    const EN: Self = Self {
        title: "Create an account",
        heading: "Create your electronic identity account",
        of: "of",
        asks: "asks you to log in. If you have no account yet, you can create one here.",
        level: "This is an e-ID level 1 account.",
        registry: "The details you enter are checked against the national population registry.",
        children: "Children under 14 cannot create an account themselves; a parent or guardian acts for them.",
        citizen_number: "Personal identification number",
        citizen_number_hint: "12 digits, printed on your identity card.",
        name: "Full name",
        name_hint: "In full, with diacritics, as on your identity card.",
        birth_date: "Date of birth",
        birth_date_hint: "As year-month-day, for example 1990-01-31.",
        password: "Password",
        password_hint: "12 to 128 characters.",
        password_again: "Password again",
        second_factor: "Second step when you log in",
        factor_totp: "A 6-digit code from an authenticator app on your phone",
        factor_passkey: "A passkey on this device, or a security key",
        submit: "Create account",
        have_account: "Already have an account?",
        login_link: "Log in",
    };
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage<'a> {
    page: Layout<'a>,
    t: &'static EnrolText,
    csrf: &'a str,
    requester: &'a Requester<'a>,
    error: Option<&'static str>,
    passkeys: bool,
}

/// The enrolment page: citizen number, name, birth date, a new password and, where the site
/// can hold passkeys, the choice of second factor; posted to `/enrol`.
pub(crate) fn enrol(
    form: &Form<'_>,
    requester: &Requester<'_>,
    error: Option<FormError>,
    passkeys: bool,
) -> String {
    let t = match form.lang {
        Lang::Vi => &EnrolText::VI,
        Lang::En => &EnrolText::EN,
    };
    render(&EnrolPage {
        page: Layout::new(form.lang, t.title, form.tx, error.is_some()),
        t,
        csrf: form.csrf,
        requester,
        error: error.map(|e| e.message(form.lang)),
        passkeys,
    })
}

/// The words of the page shown after enrolment.
struct EnrolledText {
    title: &'static str,
    heading: &'static str,
    lead: &'static str,
    secret: &'static str,
    uri: &'static str,
    keep_secret: &'static str,
    passkey_lead: &'static str,
    continue_login: &'static str,
}

impl EnrolledText {
    const VI: Self = Self {
        title: "Đã tạo tài khoản",
        heading: "Tài khoản của bạn đã được tạo",
        lead: "Bước cuối: thêm tài khoản vào một ứng dụng xác thực trên điện thoại. Mỗi lần đăng nhập, bạn sẽ nhập mã 6 chữ số mà ứng dụng hiển thị.",
        secret: "Khóa bí mật để nhập vào ứng dụng:",
        uri: "Hoặc, nếu ứng dụng của bạn chấp nhận, dùng đường dẫn sau:",
        keep_secret: "Không chia sẻ khóa này với bất kỳ ai.",
        passkey_lead: "Khóa truy cập của bạn đã được lưu. Mỗi lần đăng nhập, sau mật khẩu, thiết bị sẽ yêu cầu bạn xác nhận bằng khóa truy cập này.",
        continue_login: "Tiếp tục đăng nhập",
    };
    const EN: Self = Self {
        title: "Account created",
        heading: "Your account has been created",
        lead: "Last step: add the account to an authenticator app on your phone. Each time you log in, you will enter the 6-digit code the app shows.",
        secret: "Secret key to type into the app:",
        uri: "Or, if your app accepts it, use this link:",
        keep_secret: "Do not share this key with anyone.",
        passkey_lead: "Your passkey has been saved. Each time you log in, after your password, your device will ask you to confirm with this passkey.",
        continue_login: "Continue to log in",
    };
}

/// The TOTP secret shown once after an enrolment with an authenticator app.
pub(crate) struct TotpSetup<'a> {
    secret: &'a str,
    grouped: String,
    otpauth_uri: &'a str,
}

impl<'a> TotpSetup<'a> {
    /// The secret in base32, grouped by four for typing, and its otpauth URI.
    pub(crate) fn new(secret: &'a str, otpauth_uri: &'a str) -> Self {
        Self {
            secret,
            grouped: group_by_four(secret),
            otpauth_uri,
        }
    }
}

#[derive(Template)]
#[template(path = "enrolled.html")]
struct EnrolledPage<'a> {
    page: Layout<'a>,
    t: &'static EnrolledText,
    totp: Option<TotpSetup<'a>>,
}

/// After enrolment: the authenticator secret to add to an app, or word that the passkey is
/// saved.
pub(crate) fn enrolled(form: &Form<'_>, totp: Option<TotpSetup<'_>>) -> String {
    let t = match form.lang {
        Lang::Vi => &EnrolledText::VI,
        Lang::En => &EnrolledText::EN,
    };
    let mut page = Layout::new(form.lang, t.title, form.tx, false);
    page.switch = false;
    render(&EnrolledPage { page, t, totp })
}

/// Which passkey ceremony a page runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PasskeyCeremony {
    /// Create a passkey at enrolment (`navigator.credentials.create`).
    Register,
    /// Confirm a login with a passkey (`navigator.credentials.get`).
    Authenticate,
}

/// The words of a passkey page.
struct PasskeyText {
    title: &'static str,
    heading: &'static str,
    lead: &'static str,
    submit: &'static str,
    note: &'static str,
    failed: &'static str,
    needs_script: &'static str,
}

impl PasskeyText {
    const VI_REGISTER: Self = Self {
        title: "Tạo khóa truy cập",
        heading: "Tạo khóa truy cập (passkey)",
        lead: "Bước cuối: tạo khóa truy cập. Thiết bị sẽ yêu cầu bạn xác nhận bằng vân tay, khuôn mặt, mã PIN hoặc khóa bảo mật.",
        submit: "Tạo khóa truy cập",
        note: "Khóa truy cập được lưu trên thiết bị của bạn; hệ thống chỉ giữ khóa công khai.",
        failed: "Chưa tạo được khóa truy cập (đã hủy hoặc thiết bị không hỗ trợ). Hãy thử lại.",
        needs_script: "Trang này cần JavaScript để dùng khóa truy cập. Hãy bật JavaScript rồi tải lại trang.",
    };
    const EN_REGISTER: Self = Self {
        title: "Create a passkey",
        heading: "Create your passkey",
        lead: "Last step: create a passkey. Your device will ask you to confirm with your fingerprint, face, PIN or security key.",
        submit: "Create passkey",
        note: "The passkey stays on your device; the platform keeps only its public key.",
        failed: "The passkey was not created (cancelled, or this device does not support passkeys). Please try again.",
        needs_script: "This page needs JavaScript to use a passkey. Please turn JavaScript on and reload the page.",
    };
    const VI_AUTHENTICATE: Self = Self {
        title: "Xác nhận bằng khóa truy cập",
        heading: "Xác nhận bằng khóa truy cập",
        lead: "Dùng khóa truy cập bạn đã tạo cho tài khoản này: thiết bị sẽ yêu cầu vân tay, khuôn mặt, mã PIN hoặc khóa bảo mật.",
        submit: "Dùng khóa truy cập",
        note: "Khóa truy cập chỉ hoạt động trên trang của hệ thống định danh, nên không thể bị lừa dùng trên trang giả mạo.",
        failed: "Chưa xác nhận được bằng khóa truy cập (đã hủy hoặc không tìm thấy khóa). Hãy thử lại.",
        needs_script: "Trang này cần JavaScript để dùng khóa truy cập. Hãy bật JavaScript rồi tải lại trang.",
    };
    const EN_AUTHENTICATE: Self = Self {
        title: "Confirm with your passkey",
        heading: "Confirm with your passkey",
        lead: "Use the passkey you created for this account: your device will ask for your fingerprint, face, PIN or security key.",
        submit: "Use passkey",
        note: "A passkey works only on the identity platform's own site, so it cannot be tricked into working for a fake one.",
        failed: "The passkey did not confirm the login (cancelled, or no passkey found). Please try again.",
        needs_script: "This page needs JavaScript to use a passkey. Please turn JavaScript on and reload the page.",
    };
}

#[derive(Template)]
#[template(path = "passkey.html")]
struct PasskeyPage<'a> {
    page: Layout<'a>,
    t: &'static PasskeyText,
    csrf: &'a str,
    error: Option<&'static str>,
    action: &'static str,
    ceremony: &'static str,
    options: &'a str,
    reference: &'a str,
}

/// A passkey step: `options` (the WebAuthn options as JSON) go to `/assets/passkey.js`,
/// which posts the authenticator's answer back as the `credential` field, beside the
/// ceremony's `reference`.
pub(crate) fn passkey(
    form: &Form<'_>,
    ceremony: PasskeyCeremony,
    options: &str,
    reference: &str,
    error: Option<FormError>,
) -> String {
    let (t, action, name) = match (form.lang, ceremony) {
        (Lang::Vi, PasskeyCeremony::Register) => {
            (&PasskeyText::VI_REGISTER, "/enrol/passkey", "create")
        }
        (Lang::En, PasskeyCeremony::Register) => {
            (&PasskeyText::EN_REGISTER, "/enrol/passkey", "create")
        }
        (Lang::Vi, PasskeyCeremony::Authenticate) => {
            (&PasskeyText::VI_AUTHENTICATE, "/login/passkey", "get")
        }
        (Lang::En, PasskeyCeremony::Authenticate) => {
            (&PasskeyText::EN_AUTHENTICATE, "/login/passkey", "get")
        }
    };
    let mut page = Layout::new(form.lang, t.title, form.tx, error.is_some());
    // Switching language would start a new ceremony the page does not hold.
    page.switch = ceremony == PasskeyCeremony::Authenticate;
    render(&PasskeyPage {
        page,
        t,
        csrf: form.csrf,
        error: error.map(|e| e.message(form.lang)),
        action,
        ceremony: name,
        options,
        reference,
    })
}

/// "JBSWY3DPEHPK3PXP" → "JBSW Y3DP EHPK 3PXP".
fn group_by_four(secret: &str) -> String {
    let mut grouped = String::with_capacity(secret.len() + secret.len() / 4);
    for (i, c) in secret.chars().enumerate() {
        if i > 0 && i.is_multiple_of(4) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    grouped
}

/// The words of the consent page.
struct ConsentText {
    title: &'static str,
    heading: &'static str,
    of: &'static str,
    asks: &'static str,
    explicit_note: &'static str,
    pseudonym: &'static str,
    log: &'static str,
    explicit_legend: &'static str,
    act_for_legend: &'static str,
    myself: &'static str,
    child_note: &'static str,
    act_for_note: &'static str,
    allow: &'static str,
    deny: &'static str,
}

impl ConsentText {
    const VI: Self = Self {
        title: "Chia sẻ thông tin",
        heading: "Đồng ý chia sẻ thông tin",
        of: "của",
        asks: "đề nghị được nhận các thông tin sau về bạn:",
        explicit_note: "(cần bạn đồng ý rõ ràng ở bên dưới)",
        pseudonym: "Dịch vụ cũng nhận một mã định danh bí danh chỉ dùng riêng cho dịch vụ này; dịch vụ không bao giờ nhận số định danh cá nhân của bạn.",
        log: "Mỗi lần chia sẻ đều được ghi vào nhật ký cung cấp dữ liệu cá nhân của bạn, và bạn có thể tra cứu nhật ký này.",
        explicit_legend: "Đồng ý rõ ràng",
        act_for_legend: "Bạn đăng nhập cho ai?",
        myself: "Cho chính tôi",
        child_note: "(con dưới 14 tuổi do tôi giám hộ)",
        act_for_note: "Khi bạn đăng nhập thay cho con, dịch vụ nhận các thông tin trên của con, và biết rằng người giám hộ đã thực hiện thay.",
        allow: "Đồng ý",
        deny: "Từ chối",
    };
    const EN: Self = Self {
        title: "Share information",
        heading: "Agree to share information",
        of: "of",
        asks: "asks to receive the following about you:",
        explicit_note: "(needs your explicit agreement below)",
        pseudonym: "The service also receives a pseudonymous identifier unique to it; it never receives your personal identification number.",
        log: "Every sharing is recorded in your disclosure log, which you can consult.",
        explicit_legend: "Explicit agreement",
        act_for_legend: "Who are you signing in for?",
        myself: "Myself",
        child_note: "(a child under 14 in my care)",
        act_for_note: "When you sign in for a child, the service receives the information above about the child, and learns that a guardian acted for them.",
        allow: "Allow",
        deny: "Deny",
    };
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    page: Layout<'a>,
    t: &'static ConsentText,
    lang: Lang,
    csrf: &'a str,
    requester: &'a Requester<'a>,
    claims: Vec<ClaimLine>,
    explicit: Vec<ExplicitScope>,
    wards: &'a [Ward<'a>],
}

/// A child under 14 a guardian may sign in for, as the consent page offers them.
pub(crate) struct Ward<'a> {
    /// The value the form posts as `act_for`.
    pub(crate) choice: &'a str,
    /// The child's name, for the guardian.
    pub(crate) name: &'a str,
}

/// The consent page: exactly the claims the service asks for, a checkbox for each scope that
/// needs explicit agreement, the children the person may sign in for if any, and allow/deny
/// buttons, posted to `/consent`.
pub(crate) fn consent(
    form: &Form<'_>,
    requester: &Requester<'_>,
    claims: &[&'static str],
    explicit_scopes: &[&'static str],
    wards: &[Ward<'_>],
) -> String {
    let t = match form.lang {
        Lang::Vi => &ConsentText::VI,
        Lang::En => &ConsentText::EN,
    };
    render(&ConsentPage {
        page: Layout::new(form.lang, t.title, form.tx, false),
        t,
        lang: form.lang,
        csrf: form.csrf,
        requester,
        claims: claims
            .iter()
            .map(|&claim| ClaimLine {
                claim,
                explicit: explicit_scopes.contains(&claim),
            })
            .collect(),
        explicit: explicit_scopes
            .iter()
            .map(|&scope| ExplicitScope::new(scope, form.lang))
            .collect(),
        wards,
    })
}

/// A binding as the person's page lists it.
pub(crate) struct BindingRow<'a> {
    /// The binding's id, posted back by its forms.
    id: String,
    /// The platform's name.
    platform: &'a str,
    /// The handle.
    handle: &'a str,
    /// The child's name, for a child's binding.
    child: Option<&'a str>,
    status: BindingStatus,
    consent: Option<GuardianConsent>,
}

impl<'a> BindingRow<'a> {
    /// A row of the person's own bindings (`child` none) or of a child's.
    pub(crate) fn new(binding: &'a Binding, platform: &'a str, child: Option<&'a str>) -> Self {
        Self {
            id: binding.id.to_string(),
            platform,
            handle: &binding.handle,
            child,
            status: binding.status,
            consent: binding.guardian_consent,
        }
    }

    fn live(&self) -> bool {
        self.status.stands()
    }

    fn state(&self, lang: Lang) -> &'static str {
        match (lang, self.status, self.consent) {
            (Lang::Vi, BindingStatus::Unlinked, _) => "Đã hủy liên kết",
            (Lang::En, BindingStatus::Unlinked, _) => "Unlinked",
            (Lang::Vi, BindingStatus::Disputed, _) => "Đã báo không phải của tôi",
            (Lang::En, BindingStatus::Disputed, _) => "Reported as not mine",
            (Lang::Vi, _, Some(GuardianConsent::Pending)) => "Chờ cha, mẹ hoặc người giám hộ duyệt",
            (Lang::En, _, Some(GuardianConsent::Pending)) => "Waiting for a guardian's approval",
            (Lang::Vi, _, Some(GuardianConsent::Denied)) => "Người giám hộ đã từ chối",
            (Lang::En, _, Some(GuardianConsent::Denied)) => "Refused by a guardian",
            (Lang::Vi, _, Some(GuardianConsent::Revoked)) => "Người giám hộ đã thu hồi đồng ý",
            (Lang::En, _, Some(GuardianConsent::Revoked)) => "Consent revoked by a guardian",
            (Lang::Vi, _, Some(GuardianConsent::Approved)) => {
                "Đang hoạt động, người giám hộ đã đồng ý"
            }
            (Lang::En, _, Some(GuardianConsent::Approved)) => "Active, approved by a guardian",
            (Lang::Vi, _, None) => "Đang hoạt động",
            (Lang::En, _, None) => "Active",
        }
    }

    /// The actions this row offers: (action, whether it is the main one).
    fn actions(&self) -> Vec<(&'static str, bool)> {
        if !self.live() {
            return Vec::new();
        }
        if self.child.is_none() {
            return vec![("unlink", false), ("not_mine", false)];
        }
        match self.consent {
            Some(GuardianConsent::Pending) => vec![("approve", true), ("deny", false)],
            Some(GuardianConsent::Approved) => vec![("revoke", false)],
            _ => vec![("approve", true)],
        }
    }
}

/// A telecom line in the person's name, as their page lists it.
pub(crate) struct LineRow<'a> {
    /// The line's id, posted back by its form.
    id: String,
    /// The operator's name.
    operator: &'a str,
    /// The number, in national form.
    number: String,
    status: LineStatus,
    pending_face_check: bool,
    reported: bool,
}

impl<'a> LineRow<'a> {
    /// A row of a line the person holds or held.
    pub(crate) fn new(line: &Subscription, operator: &'a str) -> Self {
        Self {
            id: line.id.to_string(),
            operator,
            number: line.msisdn.national(),
            status: line.status,
            pending_face_check: line.pending_face_check(),
            reported: line.reported_at.is_some(),
        }
    }

    /// Whether the person may still say it is not theirs.
    fn reportable(&self) -> bool {
        !self.reported && self.status != LineStatus::Terminated
    }

    fn state(&self, lang: Lang) -> &'static str {
        if self.reported {
            return match lang {
                Lang::Vi => "Đã báo không phải của tôi; nhà mạng đã được thông báo",
                Lang::En => "Reported as not mine; the operator has been told",
            };
        }
        match (lang, self.status, self.pending_face_check) {
            (Lang::Vi, LineStatus::Terminated, _) => "Đã chấm dứt",
            (Lang::En, LineStatus::Terminated, _) => "Terminated",
            (Lang::Vi, _, true) => "Chờ nhà mạng đối chiếu khuôn mặt",
            (Lang::En, _, true) => "Waiting for the operator's face check",
            (Lang::Vi, LineStatus::Active, _) => "Đang hoạt động",
            (Lang::En, LineStatus::Active, _) => "Active",
            (Lang::Vi, LineStatus::OutgoingSuspended, _) => {
                "Tạm khóa chiều đi sau khi đổi thiết bị: hãy xác thực lại với nhà mạng"
            }
            (Lang::En, LineStatus::OutgoingSuspended, _) => {
                "Outgoing calls suspended after a device change: verify again with the operator"
            }
            (Lang::Vi, LineStatus::Blocked, _) => {
                "Khóa hai chiều: hãy xác thực lại với nhà mạng trước khi bị chấm dứt"
            }
            (Lang::En, LineStatus::Blocked, _) => {
                "Blocked both ways: verify again with the operator before it is terminated"
            }
        }
    }
}

/// What the person's page says after an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortalNotice {
    /// The binding has moved on (another tab, a platform): the page shows it as it is now.
    NotAllowed,
    /// The password form was refused, and why.
    Password(FormError),
    /// The password was changed.
    PasswordChanged,
}

impl PortalNotice {
    /// Whether it tells of something refused.
    pub(crate) fn is_error(self) -> bool {
        !matches!(self, Self::PasswordChanged)
    }
}

/// The words of the person's page.
struct PortalText {
    title: &'static str,
    heading: &'static str,
    own: &'static str,
    own_none: &'static str,
    lines: &'static str,
    lines_lead: &'static str,
    lines_none: &'static str,
    lines_count: &'static str,
    children: &'static str,
    children_lead: &'static str,
    not_allowed: &'static str,
    security: &'static str,
    current_password: &'static str,
    new_password: &'static str,
    password_hint: &'static str,
    password_again: &'static str,
    change_password: &'static str,
    password_changed: &'static str,
    sign_out_lead: &'static str,
    sign_out: &'static str,
}

impl PortalText {
    const VI: Self = Self {
        title: "Tài khoản của tôi",
        heading: "Tài khoản gắn với danh tính của bạn",
        own: "Các tài khoản trên mạng xã hội và nền tảng trực tuyến mà nền tảng đã xác nhận là của bạn.",
        own_none: "Chưa có tài khoản nào được gắn với danh tính của bạn.",
        lines: "Thuê bao di động đứng tên bạn",
        lines_lead: "Các số điện thoại mà nhà mạng đã đăng ký cho bạn và đã được đối chiếu với Cơ sở dữ liệu quốc gia về dân cư. Nếu có số không phải của bạn, hãy báo để nhà mạng xử lý.",
        lines_none: "Chưa có thuê bao nào đứng tên bạn.",
        lines_count: "Số thuê bao đang hoạt động theo nhà mạng",
        children: "Tài khoản của con bạn",
        children_lead: "Trẻ dưới 16 tuổi chỉ dùng được tài khoản khi cha, mẹ hoặc người giám hộ đồng ý. Bạn có thể thu hồi sự đồng ý bất cứ lúc nào.",
        not_allowed: "Không thể thực hiện thao tác này với tài khoản ở trạng thái hiện tại. Trang đã được cập nhật.",
        security: "Bảo mật",
        current_password: "Mật khẩu hiện tại",
        new_password: "Mật khẩu mới",
        password_hint: "Từ 12 đến 128 ký tự. Các nền tảng giữ tài khoản của bạn sẽ được thông báo.",
        password_again: "Nhập lại mật khẩu mới",
        change_password: "Đổi mật khẩu",
        password_changed: "Đã đổi mật khẩu.",
        sign_out_lead: "Nếu bạn nghi ngờ có người khác đã đăng nhập bằng danh tính của bạn: đăng xuất khỏi mọi trình duyệt và thu hồi mọi quyền đã cấp cho các dịch vụ. Các nền tảng giữ tài khoản của bạn sẽ được thông báo.",
        sign_out: "Đăng xuất khỏi mọi nơi",
    };
    const EN: Self = Self {
        title: "My accounts",
        heading: "Accounts bound to your identity",
        own: "Accounts on social networks and online platforms that the platform has bound to you.",
        own_none: "No account is bound to your identity yet.",
        lines: "SIMs in my name",
        lines_lead: "The mobile numbers operators registered in your name, checked against the national population database. If one is not yours, report it and its operator is told.",
        lines_none: "No mobile line is registered in your name.",
        lines_count: "Live lines by operator",
        children: "Your children's accounts",
        children_lead: "A child under 16 can use an account only with a parent's or guardian's consent. You can revoke it at any time.",
        not_allowed: "This cannot be done to the account in its present state. The page shows it as it is now.",
        security: "Security",
        current_password: "Current password",
        new_password: "New password",
        password_hint: "12 to 128 characters. The platforms that hold your accounts are told.",
        password_again: "New password again",
        change_password: "Change password",
        password_changed: "Your password has been changed.",
        sign_out_lead: "If you think someone else has signed in as you: sign out of every browser and withdraw every permission given to services. The platforms that hold your accounts are told.",
        sign_out: "Sign out everywhere",
    };
}

fn action_label(lang: Lang, action: &str) -> &'static str {
    match (lang, action) {
        (Lang::Vi, "unlink") => "Hủy liên kết",
        (Lang::En, "unlink") => "Unlink",
        (Lang::Vi, "not_mine") => "Không phải của tôi",
        (Lang::En, "not_mine") => "Not mine",
        (Lang::Vi, "approve") => "Đồng ý",
        (Lang::En, "approve") => "Approve",
        (Lang::Vi, "deny") => "Từ chối",
        (Lang::En, "deny") => "Deny",
        (Lang::Vi, "revoke") => "Thu hồi đồng ý",
        (Lang::En, "revoke") => "Revoke consent",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage<'a> {
    page: Layout<'a>,
    t: &'static PortalText,
    lang: Lang,
    csrf: &'a str,
    own: &'a [BindingRow<'a>],
    children: &'a [BindingRow<'a>],
    lines: &'a [LineRow<'a>],
    /// Live lines by operator: (operator, count).
    counts: Vec<(&'a str, usize)>,
    notice: Option<&'static str>,
    done: Option<&'static str>,
}

impl PortalPage<'_> {
    fn label(&self, action: &str) -> &'static str {
        action_label(self.lang, action)
    }
}

/// The person's page: their bindings, and their children's, each with the actions its state
/// allows, posted to `/me/bindings`.
pub(crate) fn portal(
    form: &Form<'_>,
    own: &[BindingRow<'_>],
    children: &[BindingRow<'_>],
    lines: &[LineRow<'_>],
    notice: Option<PortalNotice>,
) -> String {
    let t = match form.lang {
        Lang::Vi => &PortalText::VI,
        Lang::En => &PortalText::EN,
    };
    let said = notice.map(|notice| match notice {
        PortalNotice::NotAllowed => t.not_allowed,
        PortalNotice::Password(error) => error.message(form.lang),
        PortalNotice::PasswordChanged => t.password_changed,
    });
    let error = notice.is_some_and(PortalNotice::is_error);
    render(&PortalPage {
        page: Layout::new(form.lang, t.title, form.tx, error),
        t,
        lang: form.lang,
        csrf: form.csrf,
        own,
        children,
        lines,
        counts: {
            let mut counts: Vec<(&str, usize)> = Vec::new();
            for line in lines
                .iter()
                .filter(|line| line.status != LineStatus::Terminated)
            {
                match counts.iter_mut().find(|(name, _)| *name == line.operator) {
                    Some((_, count)) => *count += 1,
                    None => counts.push((line.operator, 1)),
                }
            }
            counts
        },
        notice: said.filter(|_| error),
        done: said.filter(|_| !error),
    })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Layout<'static>,
    heading: &'static str,
    explanation: &'static str,
    /// Where "back to the service" goes, when the service may be told (its redirect URI
    /// with an OAuth error).
    back: Option<&'a str>,
    back_label: &'static str,
}

/// A page that tells the person what went wrong and what to do.
pub(crate) fn error(lang: Lang, message: ErrorMessage) -> String {
    error_with_return(lang, message, None)
}

/// An error page with a link back to the service that asked, which tells it why.
pub(crate) fn error_with_return(lang: Lang, message: ErrorMessage, back: Option<&str>) -> String {
    let (heading, explanation) = message.text(lang);
    render(&ErrorPage {
        page: Layout::new(lang, heading, "", false),
        heading,
        explanation,
        back,
        back_label: match lang {
            Lang::Vi => "Quay lại dịch vụ",
            Lang::En => "Back to the service",
        },
    })
}

/// Renders a page. Askama fails only when a value's `Display` fails, which `str` and `String`
/// never do; should that change, the person gets a bare page rather than a dropped connection.
fn render(page: &impl Template) -> String {
    page.render().unwrap_or_else(|error| {
        tracing::error!(%error, "a page failed to render");
        FALLBACK.to_owned()
    })
}

const FALLBACK: &str = "<!doctype html>\n<html lang=\"vi\">\n<head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Đã xảy ra lỗi — dinhdanh</title></head>\n<body><main><h1>Đã xảy ra lỗi</h1>\
<p>Vui lòng thử lại sau ít phút.</p><p lang=\"en\">Something went wrong. Please try again \
in a few minutes.</p></main></body>\n</html>\n";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FORM_VI: Form<'static> = Form {
        lang: Lang::Vi,
        tx: "tx-123",
        csrf: "csrf-456",
    };
    const FORM_EN: Form<'static> = Form {
        lang: Lang::En,
        ..FORM_VI
    };
    const REQUESTER: Requester<'static> = Requester {
        client_name: "Cổng dịch vụ công",
        organisation_name: "Văn phòng Chính phủ",
    };

    /// Every page of both languages, with an error where the page can show one.
    fn every_page() -> Vec<(Lang, String)> {
        let mut pages = Vec::new();
        for form in [FORM_VI, FORM_EN] {
            let lang = form.lang;
            pages.push((
                lang,
                login(&form, &REQUESTER, Some(FormError::BadCredentials)),
            ));
            pages.push((lang, login(&form, &REQUESTER, None)));
            pages.push((lang, totp(&form, Some(FormError::BadCode))));
            pages.push((
                lang,
                enrol(&form, &REQUESTER, Some(FormError::NoMatch), true),
            ));
            pages.push((
                lang,
                enrolled(
                    &form,
                    Some(TotpSetup::new("JBSWY3DPEHPK3PXP", "otpauth://totp/x")),
                ),
            ));
            pages.push((lang, enrolled(&form, None)));
            for ceremony in [PasskeyCeremony::Register, PasskeyCeremony::Authenticate] {
                pages.push((
                    lang,
                    passkey(
                        &form,
                        ceremony,
                        r#"{"publicKey":{}}"#,
                        "ref-1",
                        Some(FormError::PasskeyRefused),
                    ),
                ));
            }
            pages.push((
                lang,
                consent(
                    &form,
                    &REQUESTER,
                    &["verified", "birthdate"],
                    &["birthdate"],
                    &[Ward {
                        choice: "c1",
                        name: "Nguyễn Minh An",
                    }],
                ),
            ));
            pages.push((lang, error(lang, ErrorMessage::Expired)));
            for notice in [
                None,
                Some(PortalNotice::Password(FormError::WrongPassword)),
                Some(PortalNotice::PasswordChanged),
            ] {
                pages.push((lang, portal(&form, &[], &[], &[], notice)));
            }
            let now = jiff::Timestamp::now();
            let line = |status, reported: bool| Subscription {
                id: dinhdanh_store::SubscriptionId::generate(),
                operator_id: dinhdanh_store::OrganisationId::generate(),
                msisdn: "0961000001".parse().unwrap(),
                holder: dinhdanh_store::Holder::Person(dinhdanh_store::PersonId::generate()),
                contract: false,
                activated_on: jiff::civil::date(2026, 1, 5),
                status,
                face_check: None,
                device_changed_at: None,
                reported_at: reported.then_some(now),
                created_at: now,
                updated_at: now,
            };
            let lines = [
                line(LineStatus::Active, false),
                line(LineStatus::Blocked, true),
                line(LineStatus::Terminated, false),
            ];
            let rows: Vec<LineRow<'_>> = lines
                .iter()
                .map(|line| LineRow::new(line, "Nhà mạng Một"))
                .collect();
            let page = portal(&form, &[], &[], &rows, None);
            assert_eq!(page.matches("value=\"not_mine\"").count(), 1);
            assert!(page.contains("data-count>2<"), "{page}");
            pages.push((lang, page));
        }
        pages
    }

    #[test]
    fn the_query_wins_over_accept_language() {
        assert_eq!(Lang::negotiate(Some("en"), Some("vi")), Lang::En);
        assert_eq!(Lang::negotiate(Some("vi"), Some("en")), Lang::Vi);
    }

    #[test]
    fn an_unknown_query_falls_back_to_accept_language() {
        assert_eq!(Lang::negotiate(Some("fr"), Some("en")), Lang::En);
        assert_eq!(Lang::negotiate(Some(""), None), Lang::Vi);
    }

    #[test]
    fn accept_language_picks_the_preferred_of_vi_and_en() {
        assert_eq!(Lang::negotiate(None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("fr, en;q=0.5")), Lang::En);
        assert_eq!(
            Lang::negotiate(None, Some("en;q=0.4, vi-VN;q=0.8")),
            Lang::Vi
        );
        assert_eq!(
            Lang::negotiate(None, Some("vi;q=0.5, EN-gb;q=0.5")),
            Lang::Vi
        );
        assert_eq!(Lang::negotiate(None, Some("en;q=0, vi;q=0.1")), Lang::Vi);
    }

    #[test]
    fn garbage_or_nothing_means_vietnamese() {
        assert_eq!(Lang::negotiate(None, None), Lang::Vi);
        assert_eq!(Lang::negotiate(None, Some("fr, de;q=0.5")), Lang::Vi);
        assert_eq!(Lang::negotiate(None, Some(";;,,=q=;")), Lang::Vi);
        assert_eq!(Lang::negotiate(None, Some("en;q=2")), Lang::Vi);
        assert_eq!(Lang::negotiate(None, Some("en;q=0.5x")), Lang::Vi);
    }

    #[test]
    fn q_values_follow_the_rfc_grammar() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.125"), Some(125));
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
        assert_eq!(parse_qvalue("-0.5"), None);
        assert_eq!(parse_qvalue("0.+5"), None);
    }

    #[test]
    fn names_from_the_caller_are_escaped() {
        let requester = Requester {
            client_name: "<script>alert(1)</script>",
            organisation_name: "\"><img src=x>",
        };
        let form = Form {
            tx: "\"><script>",
            ..FORM_VI
        };
        for page in [
            login(&form, &requester, None),
            enrol(&form, &requester, None, true),
            consent(&form, &requester, &["<b>"], &["\"><i>"], &[]),
        ] {
            assert!(!page.contains("<script"), "{page}");
            assert!(!page.contains("<img"), "{page}");
            assert!(!page.contains("<b>") && !page.contains("<i>"), "{page}");
            assert!(
                page.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
                "{page}"
            );
        }
    }

    #[test]
    fn the_consent_page_lists_exactly_the_claims_asked_for() {
        let claims = ["verified", "age_over_18", "name", "something_new"];
        let page = consent(&FORM_EN, &REQUESTER, &claims, &[], &[]);
        assert_eq!(page.matches("data-claim=").count(), claims.len());
        for claim in claims {
            assert!(page.contains(&format!("data-claim=\"{claim}\"")), "{claim}");
        }
        assert!(page.contains("whether you are over 18 (yes or no, not your birth date)"));
        assert!(page.contains(">something_new</li>"));
        assert!(!page.contains("date of birth"));
        assert!(!page.contains("type=\"checkbox\""));
        assert!(page.contains("<button type=\"submit\" name=\"decision\" value=\"allow\""));
        assert!(page.contains("<button type=\"submit\" name=\"decision\" value=\"deny\""));
        assert!(page.contains("pseudonymous identifier"));
        assert!(page.contains("disclosure log"));
    }

    #[test]
    fn the_consent_page_asks_for_explicit_agreement_only_when_told() {
        let page = consent(&FORM_VI, &REQUESTER, &["birthdate"], &["birthdate"], &[]);
        assert_eq!(page.matches("type=\"checkbox\"").count(), 1);
        assert!(page.contains(
            "<input type=\"checkbox\" name=\"explicit\" value=\"birthdate\" id=\"explicit-birthdate\">"
        ));
        assert!(page.contains("<label for=\"explicit-birthdate\">Tôi đồng ý rõ ràng"));
        assert!(page.contains("data-claim=\"birthdate\">ngày sinh của bạn"));
    }

    #[test]
    fn every_page_declares_its_language() {
        for (lang, page) in every_page() {
            assert!(page.starts_with("<!doctype html>"), "{page}");
            assert!(
                page.contains(&format!("<html lang=\"{}\">", lang.code())),
                "{page}"
            );
            assert!(page.contains("<meta charset=\"utf-8\">"));
            assert!(page.contains("<main>") && page.contains("<h1>"), "{page}");
            assert_eq!(page.matches("<h1>").count(), 1, "{page}");
            // No inline script anywhere; the passkey pages load the server's own.
            let own_script = "<script src=\"/assets/passkey.js\"></script>";
            assert!(!page.replace(own_script, "").contains("<script"), "{page}");
        }
    }

    #[test]
    fn every_input_has_a_label() {
        for (_, page) in every_page() {
            let inputs = page.matches("<input ").count();
            let hidden = page.matches("<input type=\"hidden\"").count();
            assert_eq!(
                page.matches("<label for=").count(),
                inputs - hidden,
                "{page}"
            );
            for id in page.split("<label for=\"").skip(1) {
                let id = &id[..id.find('"').unwrap_or_default()];
                assert!(
                    page.contains(&format!(" id=\"{id}\"")),
                    "no input for label {id}"
                );
            }
        }
    }

    #[test]
    fn forms_post_back_their_hidden_fields() {
        for page in [
            login(&FORM_EN, &REQUESTER, None),
            totp(&FORM_EN, None),
            enrol(&FORM_EN, &REQUESTER, None, true),
            consent(&FORM_EN, &REQUESTER, &["verified"], &[], &[]),
            passkey(&FORM_EN, PasskeyCeremony::Authenticate, "{}", "ref-1", None),
        ] {
            assert!(page.contains("<input type=\"hidden\" name=\"tx\" value=\"tx-123\">"));
            assert!(page.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-456\">"));
            assert!(page.contains("<input type=\"hidden\" name=\"lang\" value=\"en\">"));
        }
        assert!(login(&FORM_VI, &REQUESTER, None).contains("action=\"/login\""));
        assert!(totp(&FORM_VI, None).contains("action=\"/login/totp\""));
        assert!(enrol(&FORM_VI, &REQUESTER, None, false).contains("action=\"/enrol\""));
        assert!(!enrol(&FORM_VI, &REQUESTER, None, false).contains("second_factor"));
        assert!(
            passkey(&FORM_VI, PasskeyCeremony::Register, "{}", "ref-1", None)
                .contains("action=\"/enrol/passkey\"")
        );
        // The options reach the script as an attribute, escaped like any other text.
        let page = passkey(
            &FORM_VI,
            PasskeyCeremony::Authenticate,
            r#"{"publicKey":{"challenge":"a\"><b>"}}"#,
            "ref-1",
            None,
        );
        assert!(
            page.contains("action=\"/login/passkey\" id=\"passkey-form\" data-ceremony=\"get\"")
        );
        assert!(!page.contains("<b>"), "{page}");
        assert!(consent(&FORM_VI, &REQUESTER, &[], &[], &[]).contains("action=\"/consent\""));
    }

    #[test]
    fn the_language_switch_keeps_the_transaction() {
        let page = login(&FORM_VI, &REQUESTER, None);
        assert!(page.contains("href=\"?tx=tx-123&amp;lang=en\""), "{page}");
        assert!(page.contains(">English</a>"));
        let page = totp(&FORM_EN, None);
        assert!(page.contains("href=\"?tx=tx-123&amp;lang=vi\""), "{page}");
        assert!(page.contains(">Tiếng Việt</a>"));
        // Error pages and the page that shows a secret once offer no switch.
        let page = error(Lang::Vi, ErrorMessage::Internal);
        assert!(!page.contains("lang=en\""), "{page}");
        let page = enrolled(
            &FORM_VI,
            Some(TotpSetup::new("JBSWY3DPEHPK3PXP", "otpauth://totp/x")),
        );
        assert!(!page.contains("lang=en\""), "{page}");
        let page = login(
            &Form {
                tx: "a b&c",
                ..FORM_VI
            },
            &REQUESTER,
            None,
        );
        assert!(
            page.contains("href=\"?tx=a%20b%26c&amp;lang=en\""),
            "{page}"
        );
        assert!(
            page.contains("href=\"/enrol?tx=a%20b%26c&amp;lang=vi\""),
            "{page}"
        );
    }

    #[test]
    fn form_errors_are_announced_in_the_page_language() {
        let page = login(&FORM_VI, &REQUESTER, Some(FormError::BadCredentials));
        assert!(page.contains(
            "<div class=\"error\" role=\"alert\"><p>Số định danh cá nhân hoặc mật khẩu không đúng."
        ));
        assert!(page.contains("<title>Lỗi: Đăng nhập — dinhdanh</title>"));
        let page = enrol(&FORM_EN, &REQUESTER, Some(FormError::NoMatch), false);
        assert!(page.contains("role=\"alert\"><p>The account cannot be created"));
        let page = login(&FORM_VI, &REQUESTER, None);
        assert!(!page.contains("role=\"alert\""));
        assert!(page.contains("<title>Đăng nhập — dinhdanh</title>"));
    }

    #[test]
    fn inputs_help_password_managers_and_phone_keyboards() {
        let page = login(&FORM_VI, &REQUESTER, None);
        assert!(page.contains(
            "name=\"citizen_number\" type=\"text\" inputmode=\"numeric\" autocomplete=\"username\""
        ));
        assert!(page.contains("autocomplete=\"current-password\""));
        let page = totp(&FORM_VI, None);
        assert!(page.contains(
            "name=\"code\" type=\"text\" inputmode=\"numeric\" autocomplete=\"one-time-code\""
        ));
        let page = enrol(&FORM_VI, &REQUESTER, None, true);
        assert_eq!(page.matches("autocomplete=\"new-password\"").count(), 2);
        assert!(page.contains("name=\"birth_date\" type=\"date\""));
        assert!(page.contains("Trẻ em dưới 14 tuổi"));
        assert!(page.contains("mức độ 1"));
    }

    #[test]
    fn the_enrolled_page_shows_the_secret_grouped_and_raw() {
        let page = enrolled(
            &FORM_EN,
            Some(TotpSetup::new(
                "JBSWY3DPEHPK3PXPAB",
                "otpauth://totp/dinhdanh?secret=X&issuer=dinhdanh",
            )),
        );
        assert!(page.contains(
            "<code id=\"totp-secret\" data-secret=\"JBSWY3DPEHPK3PXPAB\">JBSW Y3DP EHPK 3PXP AB</code>"
        ));
        assert!(page.contains("otpauth://totp/dinhdanh?secret=X&#38;issuer=dinhdanh"));
        assert!(page.contains("href=\"/login?tx=tx-123&amp;lang=en\""));
        assert_eq!(group_by_four(""), "");
        assert_eq!(group_by_four("ABCD"), "ABCD");
    }

    const FORM_ERRORS: [FormError; 9] = [
        FormError::WrongPassword,
        FormError::BadCredentials,
        FormError::Locked,
        FormError::RateLimited,
        FormError::BadCode,
        FormError::NoMatch,
        FormError::WeakPassword,
        FormError::PasswordsDiffer,
        FormError::Invalid,
    ];
    const ERROR_MESSAGES: [ErrorMessage; 7] = [
        ErrorMessage::UnknownClient,
        ErrorMessage::BadRedirectUri,
        ErrorMessage::BadRequest,
        ErrorMessage::Expired,
        ErrorMessage::LevelTooLow,
        ErrorMessage::CsrfFailed,
        ErrorMessage::Internal,
    ];

    #[test]
    fn each_form_error_has_its_own_message_in_each_language() {
        for lang in [Lang::Vi, Lang::En] {
            let form = Form { lang, ..FORM_VI };
            let mut seen = Vec::new();
            for error in FORM_ERRORS {
                let message = error.message(lang);
                assert!(!seen.contains(&message), "{error:?} repeats a message");
                seen.push(message);
                let page = enrol(&form, &REQUESTER, Some(error), true);
                assert!(
                    page.contains(&format!("role=\"alert\"><p>{message}</p>")),
                    "{page}"
                );
            }
        }
        // Vietnamese is written with its diacritics, not in bare ASCII.
        assert!(FORM_ERRORS.iter().all(|e| !e.message(Lang::Vi).is_ascii()));
    }

    #[test]
    fn each_error_page_has_its_own_heading_in_each_language() {
        for lang in [Lang::Vi, Lang::En] {
            let mut seen = Vec::new();
            for message in ERROR_MESSAGES {
                let (heading, explanation) = message.text(lang);
                assert!(!seen.contains(&heading), "{message:?} repeats a heading");
                seen.push(heading);
                let page = error(lang, message);
                assert!(page.contains(&format!("<h1>{heading}</h1>")), "{page}");
                assert!(page.contains(explanation), "{page}");
                assert!(page.contains(&format!("<html lang=\"{}\">", lang.code())));
            }
        }
    }

    #[test]
    fn error_pages_say_what_to_do() {
        let page = error(Lang::En, ErrorMessage::Expired);
        assert!(page.contains("<h1>The login request has expired</h1>"));
        assert!(page.contains("go back to the service and try again"));
        let page = error(Lang::Vi, ErrorMessage::LevelTooLow);
        assert!(page.contains("mức độ 2"));
        assert!(
            page.contains("<title>Cần tài khoản định danh điện tử mức độ 2 — dinhdanh</title>")
        );
    }
}
