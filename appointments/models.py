# Appointment types, availability and appointments arrive with the scheduling work.
