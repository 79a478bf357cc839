-- The move of the books from these tables into the objects' SQLite (issue #18,
-- back-office/src/books_move.rs): how far each table has been copied, so that a move stopped
-- midway resumes where it stopped. The books' tables stay here, untouched, until a later
-- migration drops them once every deployment has moved.
CREATE TABLE books_moves (
  table_name  TEXT PRIMARY KEY,
  after_rowid INTEGER NOT NULL,
  rows_read   INTEGER NOT NULL,
  rows_copied INTEGER NOT NULL
);
