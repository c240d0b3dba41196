"""Append-only named migrations. Never edit or reorder a shipped one: add a new one at the end."""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            mode TEXT NOT NULL,
            pid INTEGER
        );
        CREATE TABLE cards (
            question_id TEXT NOT NULL,
            track TEXT NOT NULL CHECK (track IN ('said', 'recognized')),
            card_json TEXT NOT NULL,
            due TEXT NOT NULL,
            state INTEGER NOT NULL,
            reps INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (question_id, track)
        );
        CREATE INDEX cards_due ON cards (track, due);
        CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            session_id INTEGER REFERENCES sessions (id),
            question_id TEXT NOT NULL,
            topic TEXT NOT NULL,
            track TEXT NOT NULL,
            mode TEXT NOT NULL,
            answer_text TEXT NOT NULL DEFAULT '',
            transcript TEXT,
            audio_path TEXT,
            score REAL,
            coverage REAL,
            precision REAL,
            length REAL,
            rating TEXT NOT NULL,
            duration_s REAL,
            prediction TEXT,
            details_json TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX attempts_question ON attempts (question_id, created_at);
        CREATE TABLE review_log (
            id INTEGER PRIMARY KEY,
            attempt_id INTEGER NOT NULL REFERENCES attempts (id),
            question_id TEXT NOT NULL,
            track TEXT NOT NULL,
            rating INTEGER NOT NULL,
            reviewed_at TEXT NOT NULL,
            log_json TEXT NOT NULL
        );
        """,
    ),
    (
        "002_plans",
        """
        CREATE TABLE plans (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            start_date TEXT NOT NULL,
            days INTEGER NOT NULL CHECK (days >= 1),
            interview_date TEXT,
            phases_json TEXT NOT NULL
        );
        """,
    ),
]
