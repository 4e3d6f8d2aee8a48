from django.contrib import admin

from blog import services
from blog.models import Comment, Post


class CommentInline(admin.TabularInline):
    model = Comment
    extra = 0
    fields = ["author_name", "text", "approved", "created_date"]
    readonly_fields = ["created_date"]


class PublishedFilter(admin.SimpleListFilter):
    """Published or not, by the same rule as the site (`PostQuerySet.published`)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("published", "Published"), ("unpublished", "Draft or scheduled")]

    def queryset(self, request, queryset):
        if self.value() == "published":
            return queryset.published()
        if self.value() == "unpublished":
            return queryset.unpublished()
        return queryset


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published", "published_date", "updated_date"]
    list_filter = [PublishedFilter, "published_date", "author"]
    list_select_related = ["author"]
    search_fields = ["title", "body", "author__username"]
    date_hierarchy = "created_date"
    raw_id_fields = ["author"]
    readonly_fields = ["created_date", "updated_date"]
    inlines = [CommentInline]

    @admin.display(boolean=True, description="published")
    def published(self, post: Post) -> bool:
        return post.is_published


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
        # Through the service, like the site's Approve button (signals retire cached pages).
        waiting = queryset.awaiting_moderation().select_related("post")
        for comment in waiting:
            services.comment_approve(comment=comment)
        self.message_user(request, f"{len(waiting)} comment(s) approved.")
