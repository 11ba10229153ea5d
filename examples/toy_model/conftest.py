# Lets `python -m pytest tests` run from this folder without installing the package: pytest puts
# the folder of a rootdir conftest.py on sys.path, so `import toy_accel` finds ./toy_accel.
