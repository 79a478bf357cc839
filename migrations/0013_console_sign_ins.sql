-- Migration number: 0013
-- The console's sign-in generation (pay_core::sign_in): every token carries the generation it
-- was issued in; signing out moves it on, which revokes every token issued before.
CREATE TABLE console_sign_ins (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
);
INSERT INTO console_sign_ins (id, generation) VALUES (1, 0);
