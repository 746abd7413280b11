"""`multitrack serve`: a local web app over the workdir, built on the CLI verbs.

Pages (`pages`) show the workdir's timelines as pictures (`picture`), train, list the models
and continue a timeline; each button runs CLI commands as a job (`verbs`, `jobs`, `runner`)
recorded under WORKDIR/jobs/. `guard` checks Host, Origin and the per-launch token;
`workspace` keeps every path inside the workdir. `app.create_app` builds it; the runner
imports nothing of the web side, so this package imports nothing itself.
"""
