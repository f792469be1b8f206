"""Master patient index: one person across hospitals.

``features`` (Patient -> match fields), ``rules`` (the versioned settings, data only), ``columns``
and ``names`` (the comparison row), ``levels`` (each level kind in Python and as a Splink level),
``model`` and ``training`` (m/u by Splink, unsupervised), ``scoring`` and ``grading`` (one pair),
``engine`` (the API), ``batch`` and ``spark`` (Splink linkage), ``blocking``, ``memory_index``,
``sql_index`` and ``tables`` (where candidates live).
"""
