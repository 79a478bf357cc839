//! The control plane, apart from the books: what spans the merchant's orders or the
//! deployment (the order listing and search, reconciliation runs, platform certificates, the
//! console's sign-ins). On D1; the SQL lives here only.

mod certificates;
mod console;
mod listing;
mod reconciliation;

pub use certificates::Certificates;
pub use console::ConsoleSignIns;
pub use listing::{Listing, SessionFilter};
pub use reconciliation::{Difference, ReconciliationRun, Reconciliations, RunStatus};
use worker_kit::d1::Db;

#[derive(Clone)]
pub struct Catalog {
    db: Db,
}

impl Catalog {
    pub fn new(db: Db) -> Self {
        Catalog { db }
    }

    pub fn listing(&self) -> Listing<'_> {
        Listing(&self.db)
    }

    pub fn reconciliations(&self) -> Reconciliations<'_> {
        Reconciliations(&self.db)
    }

    pub fn certificates(&self) -> Certificates<'_> {
        Certificates(&self.db)
    }

    pub fn console_sign_ins(&self) -> ConsoleSignIns<'_> {
        ConsoleSignIns(&self.db)
    }
}
