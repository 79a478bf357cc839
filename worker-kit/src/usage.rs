//! What this isolate has asked of storage so far: D1 statements and round trips (a batch is one
//! round trip), statements sent to objects' SQLite and those round trips, and calls to Durable
//! Objects (those included). Counted always (two additions per call); read by
//! the tests' build (`GET /_test/usage`) so that the bench can say what a paid order costs.

use std::cell::Cell;

use serde::Serialize;

/// The counts since the isolate started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub d1_statements: u64,
    pub d1_round_trips: u64,
    pub object_calls: u64,
    /// Statements sent to objects' SQLite, and the calls that carried them (a batch is one).
    pub object_sql_statements: u64,
    pub object_sql_round_trips: u64,
}

thread_local! {
    static USAGE: Cell<Usage> = const {
        Cell::new(Usage {
            d1_statements: 0,
            d1_round_trips: 0,
            object_calls: 0,
            object_sql_statements: 0,
            object_sql_round_trips: 0,
        })
    };
}

fn add(change: impl FnOnce(&mut Usage)) {
    USAGE.with(|cell| {
        let mut usage = cell.get();
        change(&mut usage);
        cell.set(usage);
    });
}

/// One round trip to D1 carrying `statements`.
pub fn d1_round_trip(statements: u64) {
    add(|u| {
        u.d1_statements += statements;
        u.d1_round_trips += 1;
    });
}

/// One call to a Durable Object.
pub fn object_call() {
    add(|u| u.object_calls += 1);
}

/// One call to an object's SQLite carrying `statements`.
pub fn object_sql_round_trip(statements: u64) {
    add(|u| {
        u.object_calls += 1;
        u.object_sql_statements += statements;
        u.object_sql_round_trips += 1;
    });
}

/// The counts so far.
pub fn usage() -> Usage {
    USAGE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_one_round_trip() {
        let before = usage();
        d1_round_trip(3);
        d1_round_trip(1);
        object_call();
        object_sql_round_trip(3);
        let after = usage();
        assert_eq!(after.d1_statements - before.d1_statements, 4);
        assert_eq!(after.d1_round_trips - before.d1_round_trips, 2);
        assert_eq!(after.object_calls - before.object_calls, 2);
        assert_eq!(
            after.object_sql_statements - before.object_sql_statements,
            3
        );
        assert_eq!(
            after.object_sql_round_trips - before.object_sql_round_trips,
            1
        );
    }
}
