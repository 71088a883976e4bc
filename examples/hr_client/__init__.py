"""An example HR client: signs in as its Entra client and posts a SCIM BulkRequest to bulkUploadUrl.

Run it with ``python -m examples.hr_client --help`` from the checkout, or copy this folder and
run ``python -m hr_client --help`` beside it.  It needs only ``azure-identity`` and, to read its
credential from Key Vault, ``azure-keyvault-secrets``.
"""
