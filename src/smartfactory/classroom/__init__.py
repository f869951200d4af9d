"""Classroom mode: one broker, one ingestion and one store for a lecturer and a class of students, each student's
plant in its own namespace (`lab/student-07`), isolated by broker accounts and an ACL.

The modules have one job each: `passwords` (mosquitto's `$7$` hashes), `namespace` (a student's two ISA-95
levels, and a plant moved under them), `roster` (the class folder's files), `mosquitto` (the broker configuration),
`cards` (printable login cards), `setup` (`classroom init`), `broker` and `session` (`classroom start`),
`results` (the exercise results table). Nothing here is imported by `smartfactory` itself on start-up.
"""
