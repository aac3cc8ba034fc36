"""A running baton: the parts one process starts (`serve`), the extra HTTP processes beside
it (`workers`) and how they all stop (`stopping`)."""
