"""Documents of the dossier (客户档案): encrypted blobs with their metadata, filed in version
chains. Access goes through `archive.gate.DocumentGate`; content is opened only there."""
