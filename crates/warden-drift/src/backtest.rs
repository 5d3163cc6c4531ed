//! Backtests (in progress).
