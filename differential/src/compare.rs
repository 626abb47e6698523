//! Where two engines' runs of one module first disagree.

use crate::outcome::Observed;

/// One engine's run: the steps it observed, or why it refused the module.
pub type Run = Result<Vec<Observed>, String>;

/// The first disagreement between the oracle's run and onecopy's, if any.
/// The comparison ends where either side exhausted its stack (the engines'
/// limits differ, so what follows is not comparable). Refusing a module the
/// oracle ran is a disagreement; both refusing is agreement.
pub fn first_difference(oracle: &Run, ours: &Run) -> Option<String> {
    let (oracle, ours) = match (oracle, ours) {
        (Err(_), Err(_)) => return None,
        (Ok(_), Err(e)) => return Some(format!("onecopy refused a module the oracle ran: {e}")),
        (Err(e), Ok(_)) => return Some(format!("onecopy ran a module the oracle refused: {e}")),
        (Ok(a), Ok(b)) => (a, b),
    };
    for (expected, actual) in oracle.iter().zip(ours) {
        if expected.step.is_exhaustion() || actual.step.is_exhaustion() {
            return None;
        }
        if expected.step != actual.step {
            return Some(format!("{}: oracle {}, onecopy {}", expected.what, expected.step, actual.step));
        }
        if expected.state.globals != actual.state.globals {
            return Some(format!(
                "{}: exported globals differ: oracle {:?}, onecopy {:?}",
                expected.what, expected.state.globals, actual.state.globals
            ));
        }
        if expected.state.memories != actual.state.memories {
            return Some(format!(
                "{}: exported memories differ (name, bytes, hash): oracle {:?}, onecopy {:?}",
                expected.what, expected.state.memories, actual.state.memories
            ));
        }
    }
    (oracle.len() != ours.len()).then(|| format!("oracle made {} steps, onecopy {}", oracle.len(), ours.len()))
}
