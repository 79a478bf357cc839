//! The control plane, apart from the books: what spans the deployment (the merchant registry,
//! reconciliation runs, the move of the books, platform certificates, the console's sign-ins).
//! On D1; the SQL lives here only.

mod books_moves;
mod certificates;
mod console;
mod reconciliation;
mod registry;

pub use books_moves::{BooksMoves, TableMoved};
pub use certificates::Certificates;
pub use console::ConsoleSignIns;
use pay_core::merchant::MerchantId;
pub use reconciliation::{Difference, ReconciliationRun, Reconciliations, RunStatus};
pub use registry::{ApiKeyRow, EntryRow, MerchantRow, NewApiKey, ProviderRow, Registry};
use worker_kit::sql::Db;

#[derive(Clone)]
pub struct Catalog {
    db: Db,
}

impl Catalog {
    pub fn new(db: Db) -> Self {
        Catalog { db }
    }

    /// D1 itself: where the books' listing is projected (`Ledger::in_objects`), and what the
    /// tests' build inspects.
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn books_moves(&self) -> BooksMoves<'_> {
        BooksMoves(&self.db)
    }

    /// Merchant `merchant`'s reconciliations.
    pub fn reconciliations(&self, merchant: &MerchantId) -> Reconciliations<'_> {
        Reconciliations(&self.db, merchant.to_string())
    }

    pub fn certificates(&self) -> Certificates<'_> {
        Certificates(&self.db)
    }

    pub fn registry(&self) -> Registry<'_> {
        Registry(&self.db)
    }

    pub fn console_sign_ins(&self) -> ConsoleSignIns<'_> {
        ConsoleSignIns(&self.db)
    }
}
