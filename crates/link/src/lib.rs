//! The link between two nodes, shared by the simulator and the TAP driver: what a link does
//! to each frame (delay, loss, reordering, duplication, corruption, a rate limit with a queue,
//! all drawn from a seed), where the comment for each TCP transition goes in the capture, and
//! the frames held until nothing can comment on them, so that captures stream as a run goes.

mod comments;
mod faults;
mod settle;

pub use comments::{CommentAt, transition_comments};
pub use faults::{Direction, Fate, Faults, LinkConfig};
pub use settle::{Settling, Sink};
