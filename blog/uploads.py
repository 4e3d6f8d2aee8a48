"""How an uploaded file is received: in memory, and never more than IMAGE_MAX_BYTES of it."""

import io

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class ImageUploadHandler(FileUploadHandler):
    """Keeps each uploaded file in memory, up to IMAGE_MAX_BYTES. The rest of a larger file
    is read and thrown away, so the request's other fields still arrive and the form can say
    what was wrong (`too_large`, blog.images.prepare) and keep what the author typed. Nothing
    goes to a temporary file: a pod's disk holds no upload, not even for a moment."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received <= settings.IMAGE_MAX_BYTES:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        too_large = self.received > settings.IMAGE_MAX_BYTES
        buffer = io.BytesIO() if too_large else self.buffer
        upload = InMemoryUploadedFile(
            file=buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
        upload.too_large = too_large
        upload.seek(0)
        return upload
