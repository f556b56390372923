//! The link between two nodes, shared by the simulator and the TAP driver: what a link does
//! to each frame (delay, loss, reordering, duplication, corruption, a rate limit with a queue,
//! all drawn from a seed) and where the comment for each TCP transition goes in the capture.

mod comments;
mod faults;

pub use comments::{CommentAt, attach_nearest, comment, transition_comments};
pub use faults::{Direction, Fate, Faults, LinkConfig};
