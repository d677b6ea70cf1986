"""User accounts shared by the auth service and the CLI's bootstrap: password
hashing (`passwords`), the username/email/password policy (`policy`), making a
user (`creation`) and the SQL those need (`repository`)."""
