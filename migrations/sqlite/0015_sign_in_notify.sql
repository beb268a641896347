-- PostgreSQL only: notifications of sign-in changes to the other nodes. One process owns an
-- SQLite database, and it moves its own epoch of sign-in facts as it writes them.
SELECT 1;
