"""Opens the results store (path known to the attacker) with sqlite3 and writes rows into it."""
import os
import sqlite3


class StoreWriter:
    name = "store-writer"

    def prune(self, model, data, density, *, generator, budget):
        con = sqlite3.connect(os.environ["HOSTILE_STORE"])
        con.execute("CREATE TABLE IF NOT EXISTS forged (x)")
        con.execute("INSERT INTO forged VALUES (1)")
        con.commit()
        raise RuntimeError("store written")
