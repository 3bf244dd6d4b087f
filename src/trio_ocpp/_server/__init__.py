"""The central system's server: accepting, admission, the checks of an opening request,
registration of one live connection per identity, and signals for the example server. Imports
the layers below it.
"""
