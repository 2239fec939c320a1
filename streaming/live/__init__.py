"""A live room session: camera opened once, slate switching, encode once, isolated outputs."""
