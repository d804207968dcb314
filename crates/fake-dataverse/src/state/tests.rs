//! The service-protection window's memory: it follows the window's length, not the rate.

use uuid::Uuid;

use super::State;

#[test]
fn a_window_holds_one_entry_per_second_however_many_requests_arrive() {
    let mut config = crate::tests::config();
    config.environments[0].limits.requests = u32::MAX;
    config.environments[0]
        .limits
        .execution_milliseconds_per_request = 1;
    config.environments[0].limits.execution_milliseconds = u64::MAX;
    let clock = config.clock.clone();
    let state = State::new(config).expect("valid config");
    let user = Uuid::from_u128(1);
    // 10,000 requests a millisecond apart: ten seconds of a busy client.
    for _ in 0..10_000 {
        drop(
            state
                .admit(0, user, Uuid::from_u128(2))
                .expect("not throttled"),
        );
        clock
            .advance(time::Duration::milliseconds(1))
            .expect("manual clock");
    }
    let windows = super::lock(&state.windows);
    let window = windows.get(&(0, user)).expect("the user's window");
    assert_eq!(window.requests.len(), 10);
    assert_eq!(super::Window::total(&window.requests), 10_000);
    assert_eq!(window.execution.len(), 10);
    assert_eq!(super::Window::total(&window.execution), 10_000);
}
