-- Platform mode (issue #19): the console's sign-in generation per subject (a merchant's id, or
-- `platform` for the operator), so that one signing out revokes its own sign-ins only. The
-- default merchant's generation is kept.
CREATE TABLE console_sign_in_generations (
  subject    TEXT PRIMARY KEY,
  generation INTEGER NOT NULL
);
INSERT INTO console_sign_in_generations (subject, generation)
  SELECT 'default', generation FROM console_sign_ins WHERE id = 1;
DROP TABLE console_sign_ins;
ALTER TABLE console_sign_in_generations RENAME TO console_sign_ins;
