//! After a create whose answer was lost (`outcome-unknown`): look for what
//! it would have made by a key Bitbucket keeps and answer that, or leave the
//! outcome unknown. The lookup only reads: a write is never sent twice.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use crate::types::ErrorInfo;

/// How far Bitbucket's clock may run behind the component's: what it made
/// may carry a `created_on` this much before the call started.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(2);

/// `outcome` as it is, unless its outcome is unknown: then what `lookup`
/// finds, or the unknown outcome saying why nothing settled it.
pub fn reconcile<T>(
    outcome: Result<T, Error>,
    lookup: impl FnOnce() -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let Err(Error::OutcomeUnknown(info)) = outcome else {
        return outcome;
    };
    let why = match lookup() {
        Ok(Some(found)) => return Ok(found),
        // Bitbucket's listings can lag a write: not found is not proof.
        Ok(None) => "no match was found, which does not prove it did not happen".to_owned(),
        Err(error) => format!("looking for it failed: {}", error.message()),
    };
    Err(Error::OutcomeUnknown(ErrorInfo {
        message: format!("{}; {why}", info.message),
        ..info
    }))
}

/// The earliest `created_on` something this call made can carry, as a BBQL
/// date.
pub fn created_since(started: OffsetDateTime) -> Result<String, Error> {
    let since = started - CLOCK_SKEW;
    since
        .replace_nanosecond(0)
        .unwrap_or(since)
        .format(&Rfc3339)
        .map_err(|e| Error::internal(format!("could not write a date: {e}")))
}

/// Whether Bitbucket's `created_on` is at or after `since` (both RFC 3339).
pub fn created_after(created_on: Option<&str>, since: &str) -> bool {
    let parse = |text: &str| OffsetDateTime::parse(text, &Rfc3339).ok();
    match (created_on.and_then(parse), parse(since)) {
        (Some(created), Some(since)) => created >= since,
        _ => false,
    }
}

/// A BBQL string literal: quoted, with `"` and `\` escaped.
pub fn bbql_text(value: &str) -> String {
    let escaped = value.replace('\\', r"\\").replace('"', r#"\""#);
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unknown_outcome_is_looked_up() {
        let refused: Result<u8, Error> = Err(Error::validation("title", "empty"));
        let looked = reconcile(refused, || panic!("a refusal is not looked up"));
        assert!(matches!(looked, Err(Error::Validation(_))));
        assert_eq!(reconcile(Ok(1), || Ok(Some(2))).unwrap(), 1);
    }

    #[test]
    fn an_unsettled_lookup_keeps_the_outcome_unknown_and_not_retryable() {
        let lost = || Err::<u8, _>(Error::outcome_unknown("connection reset"));
        assert_eq!(reconcile(lost(), || Ok(Some(7))).unwrap(), 7);
        for lookup in [Ok(None), Err(Error::unavailable("reset again", None))] {
            let error = reconcile(lost(), || lookup).unwrap_err();
            assert_eq!(error.code(), "outcome_unknown");
            assert!(!error.retryable());
            assert!(error.message().contains("connection reset"));
        }
    }

    #[test]
    fn dates_compare_as_instants_and_text_is_quoted() {
        let since = "2026-05-01T10:00:00Z";
        assert!(created_after(Some("2026-05-01T10:00:00.5+00:00"), since));
        assert!(created_after(Some("2026-05-01T12:00:01+02:00"), since));
        assert!(!created_after(Some("2026-05-01T09:59:59Z"), since));
        assert!(!created_after(None, since));
        assert_eq!(bbql_text(r#"fix "a\b""#), r#""fix \"a\\b\"""#);
    }
}
