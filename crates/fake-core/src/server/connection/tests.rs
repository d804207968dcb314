//! The accept loop's backoff, on virtual time with a scripted listener.

use std::sync::Arc;

use super::*;

/// A listener that answers accepts from a script, then fails with EMFILE ("too many open
/// files") for ever, and notes when each accept was tried.
struct ScriptedListener {
    script: std::collections::VecDeque<io::Result<u32>>,
    attempts: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
}

impl ScriptedListener {
    fn new(script: Vec<io::Result<u32>>) -> ScriptedListener {
        ScriptedListener {
            script: script.into(),
            attempts: Arc::default(),
        }
    }
}

fn out_of_files() -> io::Error {
    io::Error::from_raw_os_error(24)
}

impl Listener for ScriptedListener {
    type Connection = u32;

    async fn accept(&mut self) -> io::Result<u32> {
        self.attempts
            .lock()
            .expect("not poisoned")
            .push(tokio::time::Instant::now());
        // A real accept goes back to the runtime; without this, a loop that retries at once
        // would starve the test instead of failing it.
        tokio::task::yield_now().await;
        self.script
            .pop_front()
            .unwrap_or_else(|| Err(out_of_files()))
    }
}

#[tokio::test(start_paused = true)]
async fn accept_errors_back_off_instead_of_spinning_and_shutdown_ends_the_wait() {
    let mut listener = ScriptedListener::new(vec![]);
    let attempts = listener.attempts.clone();
    let (stop, mut shutdown) = watch::channel(false);
    let task = tokio::spawn(async move { next_connection(&mut listener, &mut shutdown).await });
    for _ in 0..1000 {
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    let tried = attempts.lock().expect("not poisoned").len();
    assert!(
        (5..30).contains(&tried),
        "{tried} accept attempts in 10 s of EMFILE"
    );

    let asked = tokio::time::Instant::now();
    stop.send(true).expect("the loop listens");
    let outcome = tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the loop stops")
        .expect("the loop does not panic");
    assert_eq!(outcome, None);
    assert_eq!(
        asked.elapsed(),
        Duration::ZERO,
        "shutdown does not wait for the backoff to end"
    );
}

#[tokio::test(start_paused = true)]
async fn accept_backoff_doubles_resets_on_success_and_skips_lost_connections() {
    let aborted = || Err(io::Error::from(io::ErrorKind::ConnectionAborted));
    let mut listener = ScriptedListener::new(vec![
        Err(out_of_files()),
        Err(out_of_files()),
        Err(out_of_files()),
        Ok(1),
        Err(out_of_files()),
        aborted(),
        Ok(2),
    ]);
    let (_stop, mut shutdown) = watch::channel(false);
    assert_eq!(next_connection(&mut listener, &mut shutdown).await, Some(1));
    assert_eq!(next_connection(&mut listener, &mut shutdown).await, Some(2));
    let attempts = listener.attempts.lock().expect("not poisoned").clone();
    let gaps: Vec<u128> = attempts
        .windows(2)
        .map(|pair| (pair[1] - pair[0]).as_millis())
        .collect();
    assert_eq!(gaps, [10, 20, 40, 0, 10, 0]);
}
