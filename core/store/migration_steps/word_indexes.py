"""Steps 0003_document_names, 0005_word_index and 0006_cjk_grams: the word indexes
beside the main one (file names and titles, words as written, CJK trigrams)."""

from __future__ import annotations

import apsw

# Frozen: each step here holds its own SQL text and code and never calls live code (a later
# change to ``vector_index``, say, must not change what an old library's upgrade does).


def document_names(conn: apsw.Connection) -> None:
    """A word index of each document's file name and title, so a file is found by the name
    people remember even when its text never says it (see ``search.hybrid``)."""
    conn.execute(
        """
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            name, title,
            content='documents', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER documents_fts_ai AFTER INSERT ON documents BEGIN
            INSERT INTO documents_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        CREATE TRIGGER documents_fts_ad AFTER DELETE ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
        END;
        CREATE TRIGGER documents_fts_au AFTER UPDATE OF name, title ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
            INSERT INTO documents_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        INSERT INTO documents_fts(documents_fts) VALUES ('rebuild');
        """
    )


def word_index(conn: apsw.Connection) -> None:
    """The chunks' words as written (no stemming), without positions, and their vocabulary:
    what spelling correction picks a word from, and where a word is found inside a longer one
    (a part of a German compound, a Chinese word inside a run of characters). Positions are
    left out (detail none): the index only says which chunks hold a word, at about a tenth of
    the main index's size."""
    conn.execute(
        """
        CREATE VIRTUAL TABLE chunks_words USING fts5(
            text,
            content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2',
            detail='none', columnsize=0
        );
        CREATE TRIGGER chunks_words_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_words(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_words_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_words(chunks_words, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_words_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_words(chunks_words, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_words(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE VIRTUAL TABLE chunks_words_vocab USING fts5vocab(chunks_words, row);
        INSERT INTO chunks_words(chunks_words) VALUES ('rebuild');
        """
    )


# 0006_cjk_grams, frozen: the characters that make a chunk's text CJK (Hiragana, Katakana,
# CJK ideographs and their extension A, Hangul syllables, compatibility ideographs).
_CJK_GLOB = "'*[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]*'"


def cjk_grams(conn: apsw.Connection) -> None:
    """Every three characters of the chunks that hold CJK text, so a CJK word is found inside
    the runs of characters that CJK writes without spaces (the word index holds whole runs).
    Only those chunks are indexed (the triggers check the text), so a library without CJK text
    pays nothing; one with it pays about three times that text's size."""
    conn.execute(
        f"""
        CREATE VIRTUAL TABLE chunks_grams USING fts5(
            text,
            content='chunks', content_rowid='id',
            tokenize='trigram remove_diacritics 1'
        );
        CREATE TRIGGER chunks_grams_ai AFTER INSERT ON chunks WHEN new.text GLOB {_CJK_GLOB} BEGIN
            INSERT INTO chunks_grams(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_grams_ad AFTER DELETE ON chunks WHEN old.text GLOB {_CJK_GLOB} BEGIN
            INSERT INTO chunks_grams(chunks_grams, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_grams_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_grams(chunks_grams, rowid, text)
                SELECT 'delete', old.id, old.text WHERE old.text GLOB {_CJK_GLOB};
            INSERT INTO chunks_grams(rowid, text) SELECT new.id, new.text WHERE new.text GLOB {_CJK_GLOB};
        END;
        CREATE VIRTUAL TABLE chunks_grams_vocab USING fts5vocab(chunks_grams, row);
        INSERT INTO chunks_grams(rowid, text) SELECT id, text FROM chunks WHERE text GLOB {_CJK_GLOB};
        """
    )
