# The formulary, prescriptions and their dose history arrive with the clinical-record work.
