"""Documents of the dossier (客户档案): encrypted blobs with their metadata, filed in version
chains. `DocumentService` is what the API calls; the gate decides every access and alone opens
content, against the grant it mints."""
