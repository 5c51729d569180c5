"""The app's actions, by job: each module holds its keys (BINDINGS, one source for footer, help and palette)
and a mixin with the actions those keys run. `tui/app.py` composes them; `base.AppCore` holds the run and
the position they all act on."""
