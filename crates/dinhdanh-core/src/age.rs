//! Ages and age brackets, counted on the calendar of Vietnam.
//!
//! Owns how a birth date and an instant give an age: in completed years, on the civil date of
//! that instant in Vietnam (Asia/Ho_Chi_Minh). It never reads the clock; callers pass `now`.
//! The bracket thresholds are here; the policies keyed on them (consent, enrolment) are not.

use crate::{BirthDate, IdentifierError};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{self, TimeZone};
use std::sync::LazyLock;

/// Vietnam's time zone. The bundled tz database always has it; the fixed UTC+7 fallback is
/// exact for every date since 1975, when the country last changed offset (it has no DST).
static VIETNAM: LazyLock<TimeZone> = LazyLock::new(|| {
    TimeZone::get("Asia/Ho_Chi_Minh").unwrap_or_else(|_| TimeZone::fixed(tz::offset(7)))
});

/// The civil date in Vietnam at the instant `now`.
pub fn today_in_vietnam(now: Timestamp) -> Date {
    VIETNAM.to_datetime(now).date()
}

/// An age group that the platform's rules distinguish.
///
/// Serialised as `"under_13"`, `"13_15"`, `"16_17"` or `"adult"`; ordered from youngest.
// Thresholds and their sources:
// - 18: adulthood (Civil Code 2015, Art. 20);
// - 16: a child is a person under 16 (Law on Children 2016, Art. 1); social-network accounts
//   of children under 16 need a parent or guardian (Decree 147/2024/NĐ-CP);
// - 13: the minimum age most online platforms set in their own terms of use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgeBracket {
    /// Younger than 13.
    Under13,
    /// 13, 14 or 15 years old.
    From13To15,
    /// 16 or 17 years old.
    From16To17,
    /// 18 or older.
    Adult,
}

str_enum!(AgeBracket, IdentifierError::AgeBracket, "an age bracket", {
    Under13 => "under_13",
    From13To15 => "13_15",
    From16To17 => "16_17",
    Adult => "adult",
});

impl AgeBracket {
    /// The bracket of a person of this age in completed years.
    pub fn of_age(age: u16) -> Self {
        match age {
            0..=12 => Self::Under13,
            13..=15 => Self::From13To15,
            16..=17 => Self::From16To17,
            _ => Self::Adult,
        }
    }

    /// The bracket of a person born on `birth_date` at the instant `now`, counted on
    /// Vietnam's calendar (see [`AgeBracket::age_at`]). A birth date after `now` counts as
    /// [`AgeBracket::Under13`].
    pub fn at(birth_date: &BirthDate, now: Timestamp) -> Self {
        Self::of_age(Self::age_at(birth_date, now).unwrap_or(0))
    }

    /// The age in completed years of a person born on `birth_date` at the instant `now`, or
    /// `None` if the birth date is after `now`'s date.
    ///
    /// The age is counted on the civil date of `now` in Vietnam, so it changes at midnight
    /// Vietnam time, not UTC. A person born on 29 February gets a year older on 1 March in
    /// common years.
    pub fn age_at(birth_date: &BirthDate, now: Timestamp) -> Option<u16> {
        let today = today_in_vietnam(now);
        let birth = birth_date.date();
        if birth > today {
            return None;
        }
        let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
        let years = today.year() - birth.year() - i16::from(!had_birthday);
        u16::try_from(years).ok()
    }

    /// Whether the person is 13 or older.
    pub fn over_13(&self) -> bool {
        *self >= Self::From13To15
    }

    /// Whether the person is 16 or older.
    pub fn over_16(&self) -> bool {
        *self >= Self::From16To17
    }

    /// Whether the person is 18 or older (an adult).
    pub fn over_18(&self) -> bool {
        *self == Self::Adult
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{AgeBracket, today_in_vietnam};
    use crate::{BirthDate, IdentifierError};
    use jiff::Timestamp;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn born(text: &str) -> BirthDate {
        text.parse().unwrap()
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn today_is_the_vietnamese_date() {
        // 17:00 UTC is midnight in Vietnam (UTC+7).
        assert_eq!(
            today_in_vietnam(at("2024-06-01T16:59:59Z")),
            date(2024, 6, 1)
        );
        assert_eq!(
            today_in_vietnam(at("2024-06-01T17:00:00Z")),
            date(2024, 6, 2)
        );
        assert_eq!(
            today_in_vietnam(at("1975-06-13T17:00:00Z")),
            date(1975, 6, 14)
        );
    }

    #[test]
    fn birthday_at_half_past_midnight_in_vietnam_counts_before_utc_midnight() {
        let birth = born("2008-03-15");
        // 00:30 on 15 March 2026 in Vietnam is still 14 March in UTC.
        let now = at("2026-03-14T17:30:00Z");
        assert_eq!(AgeBracket::age_at(&birth, now), Some(18));
        assert_eq!(AgeBracket::at(&birth, now), AgeBracket::Adult);
        // Thirty-one minutes earlier it is 23:59 on 14 March in Vietnam.
        let before = at("2026-03-14T16:59:00Z");
        assert_eq!(AgeBracket::age_at(&birth, before), Some(17));
        assert_eq!(AgeBracket::at(&birth, before), AgeBracket::From16To17);
    }

    #[test]
    fn leap_day_births_age_on_1_march_in_common_years() {
        let birth = born("2008-02-29");
        let feb_28 = at("2026-02-28T12:00:00+07:00");
        let mar_1 = at("2026-03-01T00:00:00+07:00");
        assert_eq!(AgeBracket::age_at(&birth, feb_28), Some(17));
        assert_eq!(AgeBracket::age_at(&birth, mar_1), Some(18));
        // In a leap year the birthday itself exists.
        let birth = born("2012-02-29");
        assert_eq!(
            AgeBracket::age_at(&birth, at("2028-02-28T23:59:59+07:00")),
            Some(15)
        );
        assert_eq!(
            AgeBracket::age_at(&birth, at("2028-02-29T00:00:00+07:00")),
            Some(16)
        );
    }

    #[test]
    fn brackets_change_on_the_13th_16th_and_18th_birthday() {
        let birth = born("2010-09-02");
        let cases = [
            ("2023-09-01T23:59:59+07:00", AgeBracket::Under13),
            ("2023-09-02T00:00:00+07:00", AgeBracket::From13To15),
            ("2026-09-01T23:59:59+07:00", AgeBracket::From13To15),
            ("2026-09-02T00:00:00+07:00", AgeBracket::From16To17),
            ("2028-09-01T23:59:59+07:00", AgeBracket::From16To17),
            ("2028-09-02T00:00:00+07:00", AgeBracket::Adult),
        ];
        for (now, bracket) in cases {
            assert_eq!(AgeBracket::at(&birth, at(now)), bracket, "{now}");
        }
    }

    #[test]
    fn born_after_now_has_no_age() {
        let birth = born("2030-01-01");
        let now = at("2029-12-31T16:59:59Z");
        assert_eq!(AgeBracket::age_at(&birth, now), None);
        assert_eq!(AgeBracket::at(&birth, now), AgeBracket::Under13);
        // Born today (Vietnam date) is age 0.
        assert_eq!(
            AgeBracket::age_at(&birth, at("2029-12-31T17:00:00Z")),
            Some(0)
        );
    }

    #[test]
    fn threshold_predicates() {
        use AgeBracket::*;
        let table = [
            (Under13, false, false, false),
            (From13To15, true, false, false),
            (From16To17, true, true, false),
            (Adult, true, true, true),
        ];
        for (bracket, over_13, over_16, over_18) in table {
            assert_eq!(
                (bracket.over_13(), bracket.over_16(), bracket.over_18()),
                (over_13, over_16, over_18),
                "{bracket:?}"
            );
        }
    }

    #[test]
    fn wire_forms() {
        let expected = ["\"under_13\"", "\"13_15\"", "\"16_17\"", "\"adult\""];
        for (bracket, json) in AgeBracket::ALL.iter().zip(expected) {
            assert_eq!(serde_json::to_string(bracket).unwrap(), json);
            assert_eq!(serde_json::from_str::<AgeBracket>(json).unwrap(), *bracket);
            assert_eq!(bracket.to_string().parse::<AgeBracket>(), Ok(*bracket));
        }
        assert_eq!(
            "13-15".parse::<AgeBracket>(),
            Err(IdentifierError::AgeBracket)
        );
    }

    proptest! {
        #[test]
        fn age_matches_a_naive_count_of_birthdays(
            today_days in 0i32..(200 * 365),
            age_days in 0i32..(120 * 365),
            seconds in 0i64..86_400,
        ) {
            // From 1976 on, Vietnam has been at a constant UTC+7.
            let today = date(1976, 1, 1).checked_add(jiff::Span::new().days(today_days)).unwrap();
            let birth = today.checked_sub(jiff::Span::new().days(age_days)).unwrap();
            let now = today
                .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(7)))
                .unwrap()
                .timestamp()
                .checked_add(jiff::SignedDuration::from_secs(seconds))
                .unwrap();
            // Count the birthdays passed, with 29 February observed on 1 March.
            let mut age = 0u16;
            loop {
                let year = birth.year() + i16::try_from(age + 1).unwrap();
                let birthday = date(year, birth.month(), 1)
                    .checked_add(jiff::Span::new().days(i32::from(birth.day()) - 1))
                    .unwrap();
                if birthday > today { break; }
                age += 1;
            }
            let birth = BirthDate::new(birth);
            prop_assert_eq!(AgeBracket::age_at(&birth, now), Some(age));
            prop_assert_eq!(AgeBracket::at(&birth, now), AgeBracket::of_age(age));
        }

        #[test]
        fn age_never_decreases_as_time_passes(
            birth_days in 0i32..(150 * 365),
            start in 0i64..4_000_000_000,
            step in 0i64..400_000_000,
        ) {
            let birth = BirthDate::new(
                date(1900, 1, 1).checked_add(jiff::Span::new().days(birth_days)).unwrap(),
            );
            let earlier = Timestamp::from_second(start).unwrap();
            let later = Timestamp::from_second(start + step).unwrap();
            prop_assert!(AgeBracket::age_at(&birth, earlier) <= AgeBracket::age_at(&birth, later));
            prop_assert!(AgeBracket::at(&birth, earlier) <= AgeBracket::at(&birth, later));
        }
    }
}
