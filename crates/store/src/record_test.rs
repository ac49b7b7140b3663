use std::time::{Duration, UNIX_EPOCH};

use super::*;

#[test]
fn creation_times_are_rfc3339_utc_with_a_fixed_width() {
    assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    let leap_day = UNIX_EPOCH + Duration::new(951_782_400 + 3_723, 5_000);
    assert_eq!(rfc3339_utc(leap_day), "2000-02-29T01:02:03.000005Z");
    let later = UNIX_EPOCH + Duration::from_secs(1_796_169_600);
    assert_eq!(rfc3339_utc(later), "2026-12-02T00:00:00.000000Z");
}
