from django.contrib import admin

from blog.models import Comment, Post
from ops.pagecache import invalidate_public_pages


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["author_name", "text", "approved", "created_date"]
    readonly_fields = ["created_date"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published_date", "created_date", "updated_date"]
    list_filter = [("published_date", admin.EmptyFieldListFilter), "published_date", "author"]
    list_select_related = ["author"]
    search_fields = ["title", "body", "author__username"]
    date_hierarchy = "created_date"
    raw_id_fields = ["author"]
    readonly_fields = ["created_date", "updated_date"]
    inlines = [CommentInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["author_name", "post", "approved", "created_date"]
    list_filter = ["approved", "created_date"]
    list_select_related = ["post"]
    search_fields = ["author_name", "text", "post__title"]
    raw_id_fields = ["post"]
    actions = ["approve"]

    @admin.action(description="Approve the selected comments")
    def approve(self, request, queryset):
        updated = queryset.update(approved=True)
        invalidate_public_pages()
        self.message_user(request, f"{updated} comment(s) approved.")
