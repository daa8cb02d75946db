"""What the SDK v3 tests share besides fixtures (imported by bare name, as tests/helpers.py is)."""

#: The role every v3 program uses: another account's, never created here (roles from any account).
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
