"""The CRM application's side of leadlink: `leadlink crm install` puts the one phone normaliser and
the identity rules (find-or-create a customer, the receptionist's search) as SQL functions into
schema `leadlink` of the CRM database. The SQL comes from the dbt macros in macros/crm/ (which
render the phone macros the models use); this package only loads the metadata, runs the plan and
checks the role can."""
