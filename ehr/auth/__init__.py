"""Authorization: who the caller is (a principal of one hospital) and what they may do."""
