use std::time::Duration;

use super::*;

fn limits() -> Limits {
    Limits {
        first_byte_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

/// Runs `expired` until it completes (bounded) and says when, relative to `start`.
async fn expires_after(activity: &Activity, start: Instant) -> Duration {
    let limits = limits();
    tokio::time::timeout(Duration::from_secs(3600), expired(activity, &limits))
        .await
        .expect("the watcher completes");
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_expires_at_the_first_byte_timeout() {
    let start = Instant::now();
    let activity = Activity::new();
    assert_eq!(
        expires_after(&activity, start).await,
        Duration::from_secs(10)
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_first_byte_the_head_has_the_header_timeout() {
    let start = Instant::now();
    let activity = Activity::new();
    let watcher = activity.clone();
    let watching = tokio::spawn(async move { expires_after(&watcher, start).await });
    tokio::time::sleep(Duration::from_secs(4)).await;
    activity.first_byte_now();
    assert_eq!(watching.await.unwrap(), Duration::from_secs(4 + 30));
}

#[tokio::test(start_paused = true)]
async fn a_request_in_flight_is_never_cut_and_idleness_counts_from_its_end() {
    let start = Instant::now();
    let activity = Activity::new();
    activity.first_byte_now();
    let in_flight = activity.begin();
    let watcher = activity.clone();
    let watching = tokio::spawn(async move { expires_after(&watcher, start).await });
    // Far beyond every timer; the request is still in flight.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(!watching.is_finished());
    drop(in_flight);
    assert_eq!(watching.await.unwrap(), Duration::from_secs(600 + 60));
}

#[tokio::test(start_paused = true)]
async fn each_request_that_ends_restarts_the_idle_timer() {
    let start = Instant::now();
    let activity = Activity::new();
    activity.first_byte_now();
    let watcher = activity.clone();
    let watching = tokio::spawn(async move { expires_after(&watcher, start).await });
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        let in_flight = activity.begin();
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(in_flight);
    }
    assert_eq!(watching.await.unwrap(), Duration::from_secs(3 * 21 + 60));
}

#[tokio::test(start_paused = true)]
async fn a_later_head_is_timed_from_its_first_byte_though_the_watcher_sleeps() {
    let start = Instant::now();
    let activity = Activity::new();
    activity.first_byte_now();
    drop(activity.begin());
    // The watcher starts idle, with the whole idle timeout ahead of it.
    let watcher = activity.clone();
    let watching = tokio::spawn(async move { expires_after(&watcher, start).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    activity.first_byte_now();
    assert_eq!(watching.await.unwrap(), Duration::from_secs(5 + 30));
}
